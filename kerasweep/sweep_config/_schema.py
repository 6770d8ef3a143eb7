"""What W&B's JSON schema (and the engine's own extra checks) still find, in one line.

:func:`check_schema` runs after kerasweep's own rules, so that it only has to translate the
rare ``jsonschema`` error those let through into the same one-line form.

Example:
    >>> from kerasweep.sweep_config._reading import read
    >>> config = {"method": "grid", "parameters": {"a": {"values": [1]}}}
    >>> check_schema(read(config), config)
"""

from __future__ import annotations

from typing import Any

from kerasweep.sweep_config import _engine as engine
from kerasweep.sweep_config._reading import Document
from kerasweep.sweep_config._text import clip, did_you_mean, show

__all__ = ["check_schema"]


def check_schema(doc: Document, config: dict) -> None:
    """Whatever W&B's JSON schema still finds, in one line."""
    errors = engine.schema_errors(config)
    if errors:
        _schema_error(doc, errors[0])
    violations = engine.schema_violations(config)
    if violations:
        doc.fail(None, None, f"W&B's sweep schema refuses it: {clip(violations[0], 200)}")


def _schema_error(doc: Document, error: Any) -> None:
    from jsonschema.exceptions import best_match

    if error.context:
        error = best_match(error.context)
    path = tuple(error.absolute_path)
    value = error.instance
    kind = error.validator
    if kind == "type":
        kind_name = str(error.validator_value)
        doc.fail(
            path,
            value,
            f"{show(value)} is not {_TYPE_NAMES.get(kind_name, kind_name)}",
        )
    if kind == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        doc.fail(path, value, f"{show(value)} is not one of {choices}")
    if kind == "required":
        missing = [key for key in error.validator_value if key not in value]
        doc.fail(path + tuple(missing[:1]), None, "missing")
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = [key for key in value if key not in allowed]
        key = extra[0] if extra else None
        doc.fail(
            path + ((key,) if key else ()),
            value.get(key),
            f"unknown key (value {show(value.get(key))}){did_you_mean(key, allowed)};"
            f" allowed: {', '.join(allowed)}",
        )
    if kind in ("minItems", "minProperties"):
        doc.fail(path, value, f"{show(value)} is empty")
    if kind in ("minimum", "exclusiveMinimum"):
        relation = "at least" if kind == "minimum" else "greater than"
        doc.fail(path, value, f"{show(value)} must be {relation} {error.validator_value}")
    doc.fail(path, value, clip(error.message.splitlines()[0], 200))


_TYPE_NAMES = {
    "string": "a string",
    "array": "a list",
    "object": "a mapping",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
}
