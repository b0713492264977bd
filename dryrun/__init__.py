"""The dry-run tools: a scenario format, the simulator that plays a
scenario against a pack on Temporal's time-skipping server, and the
escalation report read from the audit tables."""
