"""Plumbing shared by the worker, the bridge, the CLI and the dev stack:
settings, logging, Postgres (pool, migrations, embedded server), Temporal
connection and search attributes. Nothing here knows about SOPs."""
