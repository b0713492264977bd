"""Activities: the only code that talks to Chatwoot, PagerDuty and Postgres.

Each integration is a class holding its client (one shared httpx client,
one asyncpg pool), created once by the worker; workflows call the bound
methods by reference.
"""
