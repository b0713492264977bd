"""What starts and signals workflows: the webhook bridge (Chatwoot and
PagerDuty webhooks mapped to workflow starts and signals, and their
delivery), the `ticketflow` CLI and the dev stack it runs."""
