"""YAML loading that remembers the line of every value, so errors can name it."""
from __future__ import annotations

from pathlib import Path

import yaml

Path_ = tuple[str | int, ...]


class _LineLoader(yaml.SafeLoader):
    pass


def load_with_lines(path: Path) -> tuple[object, dict[Path_, int]]:
    """Parse a YAML file; return the data and a map from key path to 1-based line."""
    text = path.read_text(encoding="utf-8")
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Path_, int] = {}
        _index(node, (), lines)
        data = loader.construct_document(node)
    finally:
        loader.dispose()
    return data, lines


VALUE = "@value"  # key suffix: the line where a scalar's text starts (for literal blocks, after "|")


def _index(node: yaml.Node, here: Path_, lines: dict[Path_, int], inside: frozenset[int] = frozenset()) -> None:
    # An alias may point back to a node that contains it ("a: &x {b: *x}"): content never
    # needs that, and following it would never end.
    if id(node) in inside:
        raise yaml.constructor.ConstructorError(None, None, "the value anchored here (&name) contains an alias (*name) to itself",
                                                node.start_mark)
    inside = inside | {id(node)}
    lines[here] = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        lines[here + (VALUE,)] = node.start_mark.line + (2 if node.style == "|" else 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[here + (key,)] = key_node.start_mark.line + 1
            _index(value_node, here + (key,), lines, inside)
            lines[here + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, here + (i,), lines, inside)


def text_line(lines: dict[Path_, int], loc: Path_, text: str, offset: int) -> int | None:
    """The line of character `offset` inside the scalar at loc (exact for literal blocks)."""
    start = lines.get(loc + (VALUE,))
    if start is None:
        return line_of(lines, loc)
    return start + text[:offset].count("\n")


def line_of(lines: dict[Path_, int], loc: Path_) -> int | None:
    """The line of the deepest known prefix of loc."""
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None
