"""AWS JSON 1.1: turn a request body into operation arguments, and results and errors into responses."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel, Shape, StructureShape

from findmatches.aws.errors import ApiError, SerializationException, ValidationException
from findmatches.aws.validate import validate

CONTENT_TYPE = "application/x-amz-json-1.1"
#: Timestamps travel as epoch seconds with this many decimals (milliseconds).
TIMESTAMP_DIGITS = 3


def timestamp_now() -> float:
    """Now, at the precision the wire carries.

    Store times this way, so that the time a client reads back equals the stored one and filters such as
    ``CreatedBefore`` treat it exactly.
    """
    return round(time.time(), TIMESTAMP_DIGITS)


def parse_request(op: OperationModel, body: bytes) -> dict[str, Any]:
    """Parse and validate ``body``; return the input members as snake_case keyword arguments.

    Top-level member names become snake_case (``TransformId`` → ``transform_id``); nested structures keep
    their PascalCase model names. Timestamps become epoch seconds (float).
    """
    try:
        return _parse(op, body)
    except RecursionError:  # JSON nested about a thousand deep: Python's parser (or a walk of it) runs out
        raise SerializationException("The request body is nested too deeply.") from None


def _parse(op: OperationModel, body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8") if body else "{}"
        params = json.loads(text or "{}", parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise SerializationException(f"The request body is not valid JSON: {e}") from e
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object.")
    if "\\u" in text and _has_lone_surrogate(params):
        raise SerializationException("The request body contains an unpaired UTF-16 surrogate escape.")
    shape = op.input_shape
    validate(shape, params)
    if shape is None:
        return {}
    known = {
        name: _normalise(shape.members[name], value)
        for name, value in params.items()
        if name in shape.members and value is not None
    }
    return {xform_name(name): value for name, value in known.items()}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: What a datetime can hold: 0001-01-01T00:00:00Z … 9999-12-31T23:59:59Z.
_EPOCH_RANGE = (-62135596800.0, 253402300799.0)


def _has_lone_surrogate(value: Any) -> bool:
    """True if a string anywhere in ``value`` holds half of a surrogate pair (JSON allows it, UTF-8 not)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _normalise(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "timestamp":
        return _to_epoch(value)
    if kind in ("integer", "long") and isinstance(value, float):
        return int(value)
    if kind in ("double", "float") and isinstance(value, int):
        return float(value)
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return {
            k: _normalise(shape.members[k], v)
            for k, v in value.items()
            if k in shape.members and v is not None
        }
    if kind == "list":
        return [_normalise(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _normalise(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


def _to_epoch(value: Any) -> float:
    try:
        if isinstance(value, int | float):
            seconds = float(value)
        else:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            seconds = parsed.timestamp()
    except (ValueError, OverflowError) as e:
        raise ValidationException(f"Value '{value}' is not a valid timestamp.") from e
    if not _EPOCH_RANGE[0] <= seconds <= _EPOCH_RANGE[1]:  # also refuses infinities
        raise ValidationException(f"Value '{value}' is not a valid timestamp.")
    return seconds


def serialize_result(op: OperationModel, result: dict[str, Any] | None) -> bytes:
    """Serialize an operation's result (PascalCase members) following its output shape."""
    shape = op.output_shape
    if shape is None or not result:
        return b"{}"
    return _dumps(_serialize(shape, result))


def serialize_error(error: ApiError) -> bytes:
    body: dict[str, Any] = {"__type": error.code, "Message": error.message}
    body.update({k: v for k, v in error.fields.items() if v is not None})
    return _dumps(body)


def _dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in stored data: send it \u-escaped, which JSON allows
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def _serialize(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        out = {}
        for name, member in shape.members.items():
            item = value.get(name)
            if item is not None:
                out[name] = _serialize(member, item)
        return out
    if kind == "list":
        return [_serialize(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _serialize(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            value = value.timestamp()
        return round(float(value), TIMESTAMP_DIGITS)
    if kind == "blob":
        return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
    return value
