"""How programs outside the worker reach ticket workflows: a lazily
connected Temporal client for long-running front doors, and the ticket
operations (find, query, update) that the CLI and the console share."""
