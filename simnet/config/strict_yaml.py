"""Reading scenario YAML strictly: safe types only, no duplicate keys, no alias bombs, bounded messages.

    bytes --(UTF-8, size cap)--> text --(compose)--> node graph --(checks)--> construct (SafeLoader types)

The checks run on the composed node graph, before any value is built: a mapping that repeats a key is an
error with both line numbers, and aliases may repeat a value only while the fully expanded document stays
under ``MAX_EXPANDED_NODES`` nodes (a ~1 KB "billion laughs" file would expand to ~10^9 nodes). Every
message quotes at most ``QUOTE_CHARS`` characters of a value (see ``quote``).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_FILE_BYTES = 1 << 20
"""Largest scenario file read [bytes]: scenario files are a few KB; anything bigger is not one."""
MAX_EXPANDED_NODES = 100_000
"""Most YAML nodes a document may have once every alias is expanded (shipped scenarios have < 1,000)."""
MAX_DEPTH = 100
"""Most levels of nested mappings and lists (shipped scenarios use fewer than 6)."""
QUOTE_CHARS = 200
"""Most characters of a value that an error message quotes."""
_MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictYAMLError(Exception):
    """The text is not acceptable YAML: ``line`` is 1-based (None when the problem has no place)."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line = line


def clip(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it really was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters, saying how long it really was."""
    return clip(repr(value), limit)


_KIND_NAMES = {bool: "a boolean", int: "an integer", float: "a float", str: "a string", list: "a list",
               dict: "a mapping", type(None): "null"}


def kind_name(value: Any) -> str:
    """``"a string"``, ``"an integer"``, ``"a boolean"``...: what a YAML value is, for error messages."""
    return _KIND_NAMES.get(type(value), f"a {type(value).__name__}")


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader whose mappings refuse repeated keys (the last one would silently win) and whose documents
    nest at most ``MAX_DEPTH`` levels (the composer recurses once per level)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise StrictYAMLError(f"nested more than {MAX_DEPTH} levels deep", line)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                raise StrictYAMLError(f"unhashable mapping key {quote(key)}", key_node.start_mark.line + 1) from None
            if first is not key_node:
                raise StrictYAMLError(f"duplicate key {quote(key)} at line {key_node.start_mark.line + 1} (first at "
                                      f"line {first.start_mark.line + 1}); keep only one", key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 reads 3.5e9 and 1e-3 (no dot, or no sign in the exponent) as strings; YAML 1.2 and every user read
# them as numbers, so the loader does too.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def _expanded_size(root: Node) -> int:
    """Number of nodes of ``root`` with every alias expanded (shared nodes counted at each use).

    Raises:
        StrictYAMLError: a node that contains itself (a recursive alias) or more than ``MAX_EXPANDED_NODES``.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:  # iterative post-order: deep nesting must not hit Python's recursion limit
        node, children_done = stack.pop()
        if id(node) in size:
            continue
        kids: list[Node] = []
        if isinstance(node, SequenceNode):
            kids = list(node.value)
        elif isinstance(node, MappingNode):
            kids = [n for pair in node.value for n in pair]
        if children_done:
            on_path.discard(id(node))
            size[id(node)] = 1 + sum(size[id(k)] for k in kids)
            if size[id(node)] > MAX_EXPANDED_NODES:
                raise StrictYAMLError(f"aliases expand the document beyond {MAX_EXPANDED_NODES:,} values "
                                      "(an alias bomb?); write the values out or use fewer aliases",
                                      node.start_mark.line + 1)
            continue
        if id(node) in on_path:
            raise StrictYAMLError("a recursive alias (a value that contains itself)", node.start_mark.line + 1)
        on_path.add(id(node))
        stack.append((node, True))
        stack.extend((k, False) for k in kids if id(k) not in size)
    return size[id(root)]


def load_text(text: str) -> Any:
    """Parse one YAML document into plain Python values (SafeLoader types), strictly.

    Raises:
        StrictYAMLError: syntax errors (with line and column), duplicate keys, alias bombs, recursive aliases,
            characters YAML does not allow (e.g. a binary file), nesting too deep.
    """
    try:
        loader = _StrictLoader(text)
    except yaml.reader.ReaderError as err:
        raise StrictYAMLError(f"character {err.character:#x} at position {err.position} is not allowed in YAML "
                              "(is this a binary file?)") from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        if not isinstance(root, ScalarNode):
            _expanded_size(root)
        return loader.construct_document(root)
    except yaml.reader.ReaderError as err:
        raise StrictYAMLError(f"character {err.character:#x} at position {err.position} is not allowed in YAML "
                              "(is this a binary file?)") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise StrictYAMLError(f"not valid YAML{where}: {err.problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as err:
        raise StrictYAMLError(f"not valid YAML: {quote(str(err))}") from None
    except RecursionError:
        raise StrictYAMLError(f"nested too deeply to read (more than {MAX_DEPTH} levels)") from None
    finally:
        loader.dispose()


def load_bytes(data: bytes) -> Any:
    """``load_text`` of UTF-8 ``data`` (at most ``MAX_FILE_BYTES``).

    Raises:
        StrictYAMLError: too large, not UTF-8 text, or any ``load_text`` problem.
    """
    if len(data) > MAX_FILE_BYTES:
        raise StrictYAMLError(f"{len(data):,} bytes is too large for a scenario file (at most {MAX_FILE_BYTES:,})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise StrictYAMLError(f"not UTF-8 text: byte {data[err.start]:#04x} at line {line} (is this a binary "
                              "file? save it as UTF-8)", line) from None
    return load_text(text.removeprefix("\ufeff"))
