"""Hypothesis fuzz of targets, bodies and headers against the live server: never a 5xx, never a hang."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore import serialize, xform_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findmatches.aws.spec import glue_model
from findmatches.service.provider import GlueProvider
from tests.api.wire import send
from tests.conftest import ServerProcess
from tests.unit.glue_strategies import values

MODEL = glue_model()
IMPLEMENTED = sorted(op for op in MODEL.operation_names if hasattr(GlueProvider, xform_name(op)))
#: The fuzz signs for a region of its own, so what it creates touches no other test.
REGION = "fuzz-1"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def _has_null(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return value is None


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, dict[str, str], dict[str, Any] | None]:
    """(target, body, extra headers, signing args or None for unsigned)."""
    operation = draw(st.sampled_from(IMPLEMENTED))
    target = draw(
        st.one_of(
            st.just(f"AWSGlue.{operation}"),
            st.sampled_from(["AWSGlue.GetJobs", "AWSGlue.", "AWSGlue.getMLTransform", "", "AWSGlue.Nope"]),
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
        )
    )
    shape = MODEL.operation_model(operation).input_shape
    kind = draw(st.sampled_from(["valid", "mutated", "json", "bytes"]))
    if kind in ("valid", "mutated") and shape is not None:
        params = draw(values(shape))
        if kind == "mutated" and shape.members:
            member = draw(st.sampled_from(sorted(shape.members)))
            params[member] = draw(json_values)
            body = json.dumps(params, default=str).encode()
        else:
            op = MODEL.operation_model(operation)
            body = serialize.create_serializer("json").serialize_to_request(params, op)["body"]
    elif kind == "bytes":
        body = draw(st.binary(max_size=64))
    else:
        body = json.dumps(draw(json_values)).encode()
    headers = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "X-Amz-Content-SHA256",
                    "Content-Type",
                    "X-Amz-Security-Token",
                    "X-Forwarded-For",
                    "Accept-Encoding",
                    "X-Amz-Date",
                ]
            ),
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
            max_size=2,
        )
    )
    signing = draw(
        st.sampled_from(
            [
                {"region": REGION},
                {"region": REGION},
                {"region": REGION},
                {"region": REGION, "secret": "wrong"},
                {"region": REGION, "key": "nobody"},
                None,
            ]
        )
    )
    return target, body if isinstance(body, bytes) else body.encode(), headers, signing


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=requests())
def test_no_input_makes_a_5xx_or_hangs(server: ServerProcess, request: tuple[Any, ...]) -> None:
    target, body, headers, signing = request
    reply = send(
        server.url, target, body, headers=headers, sign=signing is not None, timeout=10, **(signing or {})
    )
    assert reply.status < 500, reply.body
    assert reply.headers["x-amzn-requestid"]
    answer = json.loads(reply.body)
    assert isinstance(answer, dict)
    if reply.status >= 300:
        assert (
            answer["__type"] and answer["Message"] and reply.headers["x-amzn-errortype"] == answer["__type"]
        )
    assert not _has_null(answer)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(operation=st.sampled_from(IMPLEMENTED), data=st.data())
def test_valid_requests_get_a_modelled_answer(
    server: ServerProcess, operation: str, data: st.DataObject
) -> None:
    """A request botocore would send gets 200 or one of the operation's errors (or a validation error)."""
    op = MODEL.operation_model(operation)
    params = data.draw(values(op.input_shape))
    body = serialize.create_serializer("json").serialize_to_request(params, op)["body"]
    reply = send(server.url, f"AWSGlue.{operation}", body, region=REGION)
    assert reply.status < 500, reply.body
    if reply.status != 200:
        # besides its modelled errors, any AWS operation may answer these unmodelled ones
        allowed = {e.name for e in op.error_shapes} | {"ValidationException", "AccessDeniedException"}
        assert reply.json()["__type"] in allowed, reply.body


# Bodies that bench/fuzz_api.py found answered with a 500 (issue 17, hostile input); each is now a 400.
_DEEP = 100_000


FOUND_BY_THE_CAMPAIGN = [
    # JSON nested deeper than Python's parser recurses: RecursionError (as a whole body, in a member, at ~990
    # levels where the parse succeeds but a walk of the value runs out)
    ("GetMLTransform", b'{"TransformId":' + b"[" * _DEEP + b"]" * _DEEP + b"}", "SerializationException"),
    ("GetMLTaskRuns", b"[" * _DEEP + b"]" * _DEEP, "SerializationException"),
    ("CreateMLTransform", b'{"Name":"x","Tags":' + b'{"a":' * 995 + b"1" + b"}" * 995 + b"}", None),
    ("GetMLTransforms", b'{"Filter":' + b"[" * 990 + b"]" * 990 + b"}", None),
    # an integer too large for a double in a double member: math.isfinite overflowed
    ("UpdateMLTransform", b'{"TransformId":"t","MaxCapacity":1' + b"0" * 400 + b"}", "ValidationException"),
    ("CreateMLTransform", b'{"Name":"x","MaxCapacity":-1' + b"0" * 309 + b"}", "ValidationException"),
]


@pytest.mark.parametrize(("operation", "body", "error"), FOUND_BY_THE_CAMPAIGN)
def test_bodies_the_campaign_found(
    server: ServerProcess, operation: str, body: bytes, error: str | None
) -> None:
    reply = send(server.url, f"AWSGlue.{operation}", body, region=REGION)
    assert reply.status == 400, reply.body[:500]
    answer = reply.json()
    assert reply.headers["x-amzn-errortype"] == answer["__type"]
    expected = {error} if error else {"SerializationException", "ValidationException"}
    assert answer["__type"] in expected, answer
