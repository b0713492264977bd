"""YAML with YAML 1.2 booleans: only true/false are booleans.

PyYAML follows YAML 1.1, where `on`, `off`, `yes`, `no` are booleans, so a
rule's `on: resolved` would silently become `True: resolved`. Policy packs
and scenarios are read with this loader instead.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


class PackLoader(yaml.SafeLoader):
    pass


PackLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
PackLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=PackLoader)  # noqa: S506 - a SafeLoader subclass
