"""Reading a sweep config from a mapping or a YAML/JSON file, keeping line numbers.

:func:`read` returns a :class:`Document`: where the config came from, the data as parsed, and
the text, so that a problem found later can name its line (:meth:`Document.fail`).

Example:
    >>> document = read({"method": "grid"})
    >>> document.source, document.data
    ('<dict>', {'method': 'grid'})
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import yaml

from kerasweep.sweep_config._errors import SweepConfigError
from kerasweep.sweep_config._text import clip, did_you_mean, format_path, show

__all__ = ["Document", "read"]

_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Document:
    """A config as read: where it came from, the data, and the text for line numbers."""

    source: str
    data: Any
    text: str | None = None

    @property
    def yaml_source(self) -> bool:
        """Whether the config was read from YAML text (hints about YAML's typing apply)."""
        return self.text is not None and not self.source.lower().endswith(".json")

    def fail(self, path: tuple | str | None, value: Any, problem: str) -> NoReturn:
        """Raise the one-line :class:`SweepConfigError` for the key at ``path``."""
        if isinstance(path, str):
            path = (path,)
        line = _line_of(self.text, path) if path else None
        raise SweepConfigError(
            self.source, format_path(path) if path else None, value, problem, line=line
        )

    def refuse_unknown(
        self, mapping: Mapping[str, Any], path: tuple, allowed: Sequence[str], what: str
    ) -> None:
        """Fail at the first key of ``mapping`` not in ``allowed``: ``unknown <what> (value
        ...)``, the closest allowed key if one is close, then all of them."""
        for key in mapping:
            if key not in allowed:
                self.fail(
                    (*path, key),
                    mapping[key],
                    f"unknown {what} (value {show(mapping[key])})"
                    f"{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}",
                )


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                    key_node, yaml.ScalarNode
                ):
                    continue
                key = self.construct_object(key_node)
                if key in first_line:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"key {key!r} is given twice (first at line {first_line[key]})",
                        key_node.start_mark,
                    )
                first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read(source: Any) -> Document:
    """The config at `source` (a mapping or a file path), parsed; see the module notes."""
    if isinstance(source, Mapping):
        return Document("<dict>", source)
    if not isinstance(source, (str, os.PathLike)):
        name = f"<{type(source).__name__}>"
        raise SweepConfigError(
            name, None, source, f"{show(source)} is neither a mapping nor a file path"
        )
    name = os.fspath(source)
    if isinstance(name, bytes):
        name = os.fsdecode(name)
    path = Path(name).expanduser()
    if path.suffix.lower() not in _SUFFIXES:
        raise SweepConfigError(
            name, None, name, "not a sweep config file: expected a .yaml, .yml or .json file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepConfigError(name, None, name, "no such file") from None
    except IsADirectoryError:
        raise SweepConfigError(name, None, name, "is a directory, not a file") from None
    except PermissionError:
        raise SweepConfigError(name, None, name, "permission denied") from None
    except UnicodeDecodeError as err:
        raise SweepConfigError(
            name,
            None,
            err.object[err.start : err.start + 1],
            f"not UTF-8 text: byte {err.object[err.start]:#04x} at offset {err.start}",
        ) from None
    except OSError as err:
        raise SweepConfigError(name, None, name, f"cannot read: {err.strerror}") from None
    if path.suffix.lower() == ".json":
        return Document(name, _parse_json(name, text), text)
    return Document(name, _parse_yaml(name, text), text)


def _parse_yaml(name: str, text: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = err.problem or err.context or "invalid YAML"
        line = mark.line + 1 if mark else None
        snippet = _line_text(text, line)
        where = f" at column {mark.column + 1}" if mark else ""
        raise SweepConfigError(
            name, None, snippet, f"YAML syntax error{where}: {problem}: {snippet!r}", line=line
        ) from None
    except yaml.YAMLError as err:
        raise SweepConfigError(name, None, None, f"YAML syntax error: {err}") from None


def _parse_json(name: str, text: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict:
        result: dict = {}
        for key, value in items:
            if key in result:
                raise _DuplicateJsonKey(key)
            result[key] = value
        return result

    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        snippet = _line_text(text, err.lineno)
        raise SweepConfigError(
            name,
            None,
            snippet,
            f"JSON syntax error at column {err.colno}: {err.msg}: {snippet!r}",
            line=err.lineno,
        ) from None
    except _DuplicateJsonKey as err:
        raise SweepConfigError(
            name, err.key, err.key, f"key {err.key!r} is given twice in one object"
        ) from None


class _DuplicateJsonKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _same_key(text: str, part: Any) -> bool:
    """Whether a YAML key as written is the key `part` (``no`` is the key False)."""
    if text == str(part):
        return True
    try:
        return str(yaml.safe_load(text)) == str(part)
    except yaml.YAMLError:
        return False


def _line_text(text: str, line: int | None) -> str:
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines):
        return ""
    return clip(lines[line - 1].strip())


def _line_of(text: str | None, path: tuple) -> int | None:
    """Line of the deepest key of `path` found in a YAML (or JSON) text."""
    if text is None:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and _same_key(key_node.value, part):
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
