"""The pure, deterministic core that runs an SOP: business-time arithmetic,
policy loading, conditions, templates, and the ticket decision function
(state + event + now -> actions + next deadlines).

No I/O here except reading policy files (in `policy_loader`, called from an
activity or the CLI, never from a workflow). Workflows import this package
through `imports_passed_through()`, so it also runs time-zone maths that the
sandbox would otherwise restrict.
"""
