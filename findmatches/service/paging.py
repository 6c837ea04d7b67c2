"""Opaque NextToken pagination over ordered lists."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

from findmatches.aws.errors import InvalidInputException

T = TypeVar("T")


def _encode(offset: int, scope: str) -> str:
    raw = json.dumps({"o": offset, "s": scope}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode(token: str, scope: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        offset = data["o"]
        if data["s"] != scope or not isinstance(offset, int) or offset < 0:
            raise ValueError("token from another listing")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError) as e:
        raise InvalidInputException("Invalid pagination token.") from e
    return offset


def page(
    items: Sequence[T], next_token: str | None, max_results: int | None, default: int, scope: str
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token for the next one (None at the end).

    ``scope`` ties a token to the listing that made it, so a token from another listing is refused.
    """
    start = _decode(next_token, scope) if next_token else 0
    size = max_results or default
    chunk = list(items[start : start + size])
    end = start + len(chunk)
    return chunk, (_encode(end, scope) if end < len(items) else None)
