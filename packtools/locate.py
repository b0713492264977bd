"""Where in a pack's YAML text a value is: `loc` paths -> line and column.

Pydantic and the pack checks name a mistake by its path in the loaded data
(`clocks.response_high.stops_on.0`); people need the line. The pack is
composed with PyYAML's node API, which keeps each node's position, and
constructed from those same nodes by the loader the engine uses
(`engine.yaml_loader.PackLoader`, YAML 1.2 booleans). Constructing
flattens merge keys (`<<: *response`) into the mapping nodes themselves and
an alias is the very node of its anchor, so following a path through the
nodes follows anchors, aliases and merges exactly as the loaded data does:
a typo in a shared block is reported once, where it was written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from engine.yaml_loader import PackLoader
from models.policy import WEEKDAYS

Loc = tuple[Any, ...]


@dataclass(frozen=True, order=True)
class Position:
    line: int  # 1-based, like editors
    column: int  # 1-based


def _pos(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def weekday_key(keys: list[str], day: str) -> str | None:
    """The key of a `weekly` mapping that gives `day` its hours: `mon-fri`
    for `wed` (the model expands ranges into one key a day)."""
    for key in reversed(keys):
        k = str(key).lower()
        if k == day:
            return key
        a, _, b = k.partition("-")
        if (
            b
            and a in WEEKDAYS
            and b in WEEKDAYS
            and day in WEEKDAYS[WEEKDAYS.index(a) : WEEKDAYS.index(b) + 1]
        ):
            return key
    return None


class PackDocument:
    """A pack's text, its data as the loader reads it, and its node tree.

    Raises `yaml.YAMLError` (with `problem_mark`) when the text is not YAML."""

    def __init__(self, text: str) -> None:
        self.text = text
        loader = PackLoader(text)
        try:
            self.root: yaml.Node | None = loader.get_single_node()
            # Before constructing: it folds merge keys into the mappings, which would
            # look like duplicates.
            self.duplicate_keys = (
                list(_duplicates(self.root, (), set())) if self.root is not None else []
            )
            self.data: Any = loader.construct_document(self.root) if self.root is not None else None
        finally:
            loader.dispose()

    # ------------------------------------------------------------ walking

    @staticmethod
    def child(node: yaml.Node, key: Any) -> tuple[yaml.Node | None, yaml.Node | None]:
        """(key node, value node) of `key` in a mapping (the last one wins,
        as in the loaded data), or (None, item) in a sequence."""
        if isinstance(node, yaml.MappingNode):
            pairs = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)]
            for k, v in reversed(pairs):
                if k.value == str(key):
                    return k, v
            if str(key) in WEEKDAYS:
                found = weekday_key([k.value for k, _ in pairs], str(key))
                if found is not None:
                    return next((k, v) for k, v in reversed(pairs) if k.value == found)
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(key, int)
            and 0 <= key < len(node.value)
        ):
            return None, node.value[key]
        return None, None

    def walk(self, loc: Loc) -> list[tuple[Any, yaml.Node | None, yaml.Node]]:
        """The path's steps found in the tree: (loc element, key node, value
        node). Elements that are not data (pydantic's union tags, `[key]`)
        or not there (a missing field) are skipped."""
        out: list[tuple[Any, yaml.Node | None, yaml.Node]] = []
        node = self.root
        for part in loc:
            if node is None:
                break
            k, v = self.child(node, part)
            if v is None:
                continue
            out.append((part, k, v))
            node = v
        return out

    def position(self, loc: Loc, *, key: bool = False) -> Position:
        """Where `loc` is written: its value, or with `key` its key (an
        unknown field, a name). A path that is not all there (a missing
        field) points at the key of the deepest part that is."""
        steps = self.walk(loc)
        if not steps:
            return _pos(self.root.start_mark) if self.root is not None else Position(1, 1)
        complete = len(steps) == len([p for p in loc if not _is_tag(p)])
        if key or not complete:
            for _, k, v in reversed(steps):
                if k is not None:
                    return _pos(k.start_mark)
                if not complete:
                    return _pos(v.start_mark)
        return _pos(steps[-1][2].start_mark)

    def node(self, loc: Loc) -> yaml.Node | None:
        steps = self.walk(loc)
        return (
            steps[-1][2]
            if steps and len(steps) == len([p for p in loc if not _is_tag(p)])
            else None
        )

    def text_position(self, loc: Loc, needle: str) -> Position:
        """Where `needle` is written inside the scalar at `loc` (a template's
        `{placeholder}` on the third line of a block), else the scalar."""
        node = self.node(loc)
        if not isinstance(node, yaml.ScalarNode):
            return self.position(loc)
        raw = self.text[node.start_mark.index : node.end_mark.index]
        at = raw.find(needle)
        if at < 0:
            return _pos(node.start_mark)
        before = raw[:at]
        line = node.start_mark.line + before.count("\n")
        column = at - before.rfind("\n") - 1 if "\n" in before else node.start_mark.column + at
        return Position(line + 1, column + 1)

    # ------------------------------------------------------------ scanning

    def scalars(self) -> Iterator[tuple[Loc, yaml.ScalarNode]]:
        """Every scalar value with its path (each node once)."""
        seen: set[int] = set()

        def visit(node: yaml.Node, loc: Loc) -> Iterator[tuple[Loc, yaml.ScalarNode]]:
            if id(node) in seen:
                return
            seen.add(id(node))
            if isinstance(node, yaml.ScalarNode):
                yield loc, node
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    yield from visit(item, loc + (i,))
            elif isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    yield from visit(v, loc + (getattr(k, "value", "?"),))

        if self.root is not None:
            yield from visit(self.root, ())


def _duplicates(node: yaml.Node, loc: Loc, seen: set[int]) -> Iterator[tuple[Loc, int]]:
    """(path of the key, line of its first occurrence) for each key written
    twice in one mapping: YAML keeps the last silently, so a second
    `clocks:` block would drop the first."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicates(item, loc + (i,), seen)
    elif isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for k, v in node.value:
            key = getattr(k, "value", None)
            if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                name: str = k.value  # a scalar node's value is its text
                if name in first:
                    yield loc + (name,), first[name]
                first.setdefault(name, k.start_mark.line + 1)
            yield from _duplicates(v, loc + (key,), seen)


_TAG = re.compile(r"^(\[key\]|[a-z-]+\[.*\]|function-.*|int|str|bool|float|none|list|dict|tuple)$")


def _is_tag(part: Any) -> bool:
    """A pydantic `loc` element that names a union member or a key check, not data."""
    return isinstance(part, str) and bool(_TAG.match(part))


def yaml_error_position(exc: yaml.YAMLError) -> Position:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return _pos(mark) if mark is not None else Position(1, 1)
