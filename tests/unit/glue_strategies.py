"""Hypothesis strategies that draw valid values for any shape of the Glue model.

Used by the protocol round trips (requests and results) and by the live-server fuzz.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

_SURROGATES = "\\uD800\\uDC00-\\uDBFF\\uDFFF"
_ASTRAL = "\\U00010000-\\U0010FFFF"
#: Collections are kept short and nesting shallow so that examples stay cheap.
MAX_ITEMS = 2
MAX_TEXT = 12
MAX_DEPTH = 4

_SINGLE_LINE = st.characters(min_codepoint=0x20, exclude_categories=["Cs"], exclude_characters="\ufffe\uffff")
_ALPHABETS = {
    "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*": st.one_of(
        _SINGLE_LINE, st.just("\t")
    ),
    "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\r\\n\\t]*": st.one_of(
        _SINGLE_LINE, st.sampled_from("\t\r\n")
    ),
}
_WORD = st.characters(categories=("L", "N"), max_codepoint=0x7F)


def python_pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java) pattern as Python understands it, or None for Java-only syntax."""
    try:
        return re.compile(pattern.replace(_SURROGATES, _ASTRAL), re.ASCII)
    except re.error:
        return None


def _string(shape: Shape) -> st.SearchStrategy[str]:
    meta = shape.metadata
    enum = getattr(shape, "enum", None)
    if enum:
        return st.sampled_from(list(enum))
    low = meta.get("min", 0)
    high = min(meta.get("max", low + MAX_TEXT), low + MAX_TEXT)
    pattern = meta.get("pattern")
    if pattern in _ALPHABETS:
        return st.text(_ALPHABETS[pattern], min_size=low, max_size=high)
    if pattern:
        compiled = python_pattern(pattern)
        if compiled is None:
            return st.text(_WORD, min_size=max(low, 1), max_size=high)
        limit = meta.get("max", 10**9)
        return st.from_regex(compiled, fullmatch=True).filter(lambda s: low <= len(s) <= limit)
    return st.text(_SINGLE_LINE, min_size=low, max_size=high)


def _timestamps(for_request: bool) -> st.SearchStrategy[Any]:
    if for_request:
        return st.datetimes(
            min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.UTC)
        )
    # results carry epoch seconds with millisecond precision, as the server sends them
    return st.integers(0, 4_102_444_800_000).map(lambda ms: ms / 1000)


def values(shape: Shape, *, for_request: bool = True, depth: int = 0) -> st.SearchStrategy[Any]:
    """Valid values for ``shape``: requests get datetimes for timestamps, results epoch floats."""
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined]
        required = set(shape.required_members)
        must = {
            n: values(m, for_request=for_request, depth=depth + 1)
            for n, m in members.items()
            if n in required
        }
        may = (
            {}
            if depth >= MAX_DEPTH
            else {
                n: values(m, for_request=for_request, depth=depth + 1)
                for n, m in members.items()
                if n not in required
            }
        )
        return st.fixed_dictionaries(must, optional=may)
    if kind == "list":
        low = meta.get("min", 0)
        if depth >= MAX_DEPTH and low == 0:
            return st.just([])
        member = values(shape.member, for_request=for_request, depth=depth + 1)  # type: ignore[attr-defined]
        return st.lists(member, min_size=low, max_size=min(meta.get("max", MAX_ITEMS), max(low, MAX_ITEMS)))
    if kind == "map":
        low = meta.get("min", 0)
        if depth >= MAX_DEPTH and low == 0:
            return st.just({})
        keys = _string(shape.key)  # type: ignore[attr-defined]
        items = values(shape.value, for_request=for_request, depth=depth + 1)  # type: ignore[attr-defined]
        return st.dictionaries(keys, items, min_size=low, max_size=min(meta.get("max", MAX_ITEMS), MAX_ITEMS))
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        bits = 31 if kind == "integer" else 63
        return st.integers(meta.get("min", -(2**bits)), meta.get("max", 2**bits - 1))
    if kind in ("double", "float"):
        return st.floats(meta.get("min"), meta.get("max"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return _timestamps(for_request)
    if kind == "blob":
        return st.binary(max_size=MAX_TEXT)
    raise NotImplementedError(f"no strategy for {kind} shape {shape.name}")
