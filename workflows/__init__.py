"""Workflow classes. Deterministic code only: time from `workflow.now()`,
no I/O; models come in through `imports_passed_through()`."""
