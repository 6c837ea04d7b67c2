"""Validate a parsed request against its input shape, answering in AWS's ValidationException wording.

botocore checks only required members, types and ``min`` client-side; the server checks everything the
model says: required, type, min/max length and value, pattern and enum.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from typing import Any

from botocore.model import Shape, StructureShape

from findmatches.aws.errors import ValidationException

#: Java's way of writing "any astral character" as a UTF-16 surrogate range, and Python's.
_SURROGATE_RANGE = "\\uD800\\uDC00-\\uDBFF\\uDFFF"
_ASTRAL_RANGE = "\\U00010000-\\U0010FFFF"
_MAX_REPORTED = 10


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        # re.ASCII: Java's \w, \d and \s (the model's dialect) match ASCII characters only
        return re.compile(pattern.replace(_SURROGATE_RANGE, _ASTRAL_RANGE), re.ASCII)
    except re.error:  # a Java-only construct (e.g. \p{L}); the model's other checks still apply
        return None


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


#: The most of a value an error message quotes: a multi-MiB string would otherwise come back in the error
#: (twice its size as JSON), to every client that sent it.
MAX_SHOWN_CHARS = 1024


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        return "true" if value else "false"
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}… ({len(text):,} characters)"


class _Collector:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, value: Any, path: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.errors.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")


def validate(shape: StructureShape | None, params: dict[str, Any]) -> None:
    """Raise ValidationException listing every constraint that ``params`` breaks."""
    if shape is None:
        return
    found = _Collector()
    _check_structure(shape, params, "", found)
    if found.errors:
        count = len(found.errors)
        noun = "error" if count == 1 else "errors"
        shown = "; ".join(found.errors[:_MAX_REPORTED])
        raise ValidationException(f"{count} validation {noun} detected: {shown}")


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _check_structure(shape: StructureShape, value: dict[str, Any], path: str, found: _Collector) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            found.add(None, _join(path, _camel(name)), "Member must not be null")
    for name, member in shape.members.items():
        if name in value and value[name] is not None:
            _check(member, value[name], _join(path, _camel(name)), found)


def _check(shape: Shape, value: Any, path: str, found: _Collector) -> None:
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            found.add(value, path, "Member must be a structure")
            return
        assert isinstance(shape, StructureShape)
        _check_structure(shape, value, path, found)
    elif kind == "list":
        if not isinstance(value, list):
            found.add(value, path, "Member must be a list")
            return
        _check_size(value, len(value), meta, path, found)
        member = shape.member  # type: ignore[attr-defined]
        for index, item in enumerate(value):
            item_path = f"{path}.{index + 1}.member"
            if item is None:
                found.add(None, item_path, "Member must not be null")
            else:
                _check(member, item, item_path, found)
    elif kind == "map":
        if not isinstance(value, dict):
            found.add(value, path, "Member must be a map")
            return
        _check_size(value, len(value), meta, path, found)
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", found)  # type: ignore[attr-defined]
            if item is None:
                found.add(None, f"{path}.value", "Member must not be null")
            else:
                _check(shape.value, item, f"{path}.value", found)  # type: ignore[attr-defined]
    elif kind == "string":
        if not isinstance(value, str):
            found.add(value, path, "Member must be of type string")
            return
        _check_size(value, len(value), meta, path, found)
        if shape.enum and value not in shape.enum:  # type: ignore[attr-defined]
            found.add(value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")  # type: ignore[attr-defined]
        pattern = meta.get("pattern")
        if pattern:
            compiled = _compiled(pattern)
            if compiled is not None and compiled.fullmatch(value) is None:
                found.add(value, path, f"Member must satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer() and math.isfinite(value):
                value = int(value)
            else:
                found.add(value, path, "Member must be of type integer")
                return
        bits = 32 if kind == "integer" else 64
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            found.add(value, path, f"Member must fit in a {bits}-bit integer")
            return
        _check_range(value, meta, path, found)
    elif kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite_double(value):
            found.add(value, path, "Member must be of type number")
            return
        _check_range(value, meta, path, found)
    elif kind == "boolean":
        if not isinstance(value, bool):
            found.add(value, path, "Member must be of type boolean")
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            found.add(value, path, "Member must be a timestamp")
    elif kind == "blob" and not isinstance(value, str):
        found.add(value, path, "Member must be a base64-encoded string")


def _finite_double(value: float) -> bool:
    """A finite number that a double holds (``math.isfinite`` overflows on an integer such as 10**400)."""
    if isinstance(value, int):
        return abs(value) <= sys.float_info.max
    return math.isfinite(value)


def _check_size(value: Any, size: int, meta: dict[str, Any], path: str, found: _Collector) -> None:
    if "min" in meta and size < meta["min"]:
        found.add(value, path, f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and size > meta["max"]:
        found.add(value, path, f"Member must have length less than or equal to {meta['max']}")


def _check_range(value: float, meta: dict[str, Any], path: str, found: _Collector) -> None:
    if "min" in meta and value < meta["min"]:
        found.add(value, path, f"Member must have value greater than or equal to {meta['min']}")
    if "max" in meta and value > meta["max"]:
        found.add(value, path, f"Member must have value less than or equal to {meta['max']}")
