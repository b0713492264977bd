"""What starts and signals workflows: the webhook bridge, the operator CLI,
the dev stack and the scenario simulator."""
