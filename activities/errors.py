"""Which activity failures are worth retrying.

A Postgres *data* error (a value out of range for its column, text that is
not a uuid, a check constraint) fails the same way on every attempt: retrying
it only wedges the ticket, whose actions run one after another, behind a row
that can never be written. Such errors become a non-retryable
`ApplicationError` at once; the ticket records the failed action in its
ladder and audit trail and goes on. Connection loss, a restarting server,
timeouts and lock conflicts stay retryable (they heal).
"""

from __future__ import annotations

import functools

import asyncpg
from temporalio.exceptions import ApplicationError

# SQLSTATE class 22 (data exception; asyncpg also raises DataError for a
# Python value it cannot encode for the column, e.g. "value out of int32
# range") and class 23 (integrity constraint: not-null, check, foreign key).
DATA_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
)
DATA_ERROR_TYPE = "AuditDataError"


def is_data_error(exc: BaseException) -> bool:
    return isinstance(exc, DATA_ERRORS)


def as_final(exc: BaseException) -> ApplicationError:
    """The non-retryable error an activity raises for a data error."""
    return ApplicationError(
        f"Postgres rejected the row ({type(exc).__name__}): {str(exc)[:300]}",
        type=DATA_ERROR_TYPE,
        non_retryable=True,
    )


def data_errors_are_final(cls: type) -> type:
    """Class decorator: every `@activity.defn` method of `cls` turns a data
    error into a non-retryable ApplicationError. The wrapper keeps the
    activity definition (functools.wraps copies it), so workflows still call
    the activities by method reference."""
    for name, fn in list(vars(cls).items()):
        if callable(fn) and hasattr(fn, "__temporal_activity_definition"):
            setattr(cls, name, _final_on_data_error(fn))
    return cls


def _final_on_data_error(fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        try:
            return await fn(*args, **kwargs)
        except DATA_ERRORS as exc:
            raise as_final(exc) from None

    return wrapper
