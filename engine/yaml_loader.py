"""YAML with YAML 1.2 booleans: only true/false are booleans.

PyYAML follows YAML 1.1, where `on`, `off`, `yes`, `no` are booleans, so a
rule's `on: resolved` would silently become `True: resolved`. Policy packs
and scenarios are read with this loader instead.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, cast

import yaml
from yaml.resolver import BaseResolver

_Resolver = TypeVar("_Resolver", bound=type[BaseResolver])


def _yaml12_booleans(loader: _Resolver) -> _Resolver:
    loader.yaml_implicit_resolvers = {
        first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
    }
    loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    return loader


@_yaml12_booleans
class PackLoader(yaml.SafeLoader):
    """Pure-Python loader: subclassed where node line numbers are needed (scenarios)."""


# libyaml's parser (about 9x faster on a pack) with the same resolver; the
# pure-Python loader where PyYAML was built without libyaml.
# `type(...)` is typed as returning a plain `type`; the class it makes here is
# a subclass of CSafeLoader, its only base.
FastPackLoader: type[yaml.CSafeLoader | yaml.SafeLoader] = (
    _yaml12_booleans(cast(type[yaml.CSafeLoader], type("FastPackLoader", (yaml.CSafeLoader,), {})))
    if hasattr(yaml, "CSafeLoader")
    else PackLoader
)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=FastPackLoader)
