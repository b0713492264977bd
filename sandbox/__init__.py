"""Local stand-ins for Chatwoot and PagerDuty.

`ticketflow dev` starts them when real credentials are absent, and the tests
run against them. They speak the real APIs' request and response shapes,
keep state, reject what the real APIs reject, can be told to fail a share of
calls, and expose every call they received under `/_sandbox/calls`.
"""
