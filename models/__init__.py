"""Pydantic models shared by workflows, activities and starters.

Workflows import these through `workflow.unsafe.imports_passed_through()`,
so this package must stay free of I/O libraries (no httpx, no asyncpg).
"""
