"""Hostile input at scale (issue 17): generated request bodies per operation family against a live server.

Starts ``findmatches serve`` (``--account-rate 0``: throttling must not hide answers) on a free loopback port,
with an S3 endpoint that refuses connections at once and a local root of its own, seeds a database, a table
and a transform, then sends ``--per-family`` requests to each family of operations from a pool of threads.
Bodies start from values drawn from the botocore model (tests/unit/glue_strategies.py, a pool per operation)
and are then kept valid, pointed at the seeded resources, pushed to their boundaries (min/max lengths and
values, enum edges), broken (out of range, off pattern, wrong types, unknown or null members), nested deep,
blown up to the server's body limit and beyond, spoilt with bad UTF-8 or duplicate keys, or replaced by JSON
that is no object. Most are signed with SigV4 (botocore's signer); a share is unsigned or wrongly signed.

Each answer is checked: no 5xx; every error carries ``__type`` (equal to ``x-amzn-ErrorType``) from the
operation's modelled errors or the protocol's common ones; nothing takes longer than ``--hang-s``. The
server's RSS is sampled through /proc during the run. Every request is a pure function of ``--seed``, its
family and its index, so ``--replay FAMILY:INDEX`` prints one body again.

    .venv/bin/python bench/fuzz_api.py [--per-family 10000] [--seed 0] [--threads 8] [--json fuzz_api.json]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import math
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore import serialize, xform_name
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import Shape, StructureShape
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from bench.common import Server, free_port, print_table, write_json
from findmatches.aws import errors
from findmatches.aws.app import MAX_BODY_BYTES
from findmatches.aws.spec import glue_model
from findmatches.service.provider import GlueProvider
from tests.unit.glue_strategies import python_pattern, values

ROOT = Path(__file__).resolve().parent.parent
MODEL = glue_model()
IMPLEMENTED = sorted(op for op in MODEL.operation_names if hasattr(GlueProvider, xform_name(op)))
REGION = "fuzz-1"
CONTENT_TYPE = "application/x-amz-json-1.1"
#: Errors any operation may answer besides its modelled ones: the protocol's (errors.py) and AWS's common ones.
COMMON_ERRORS = {
    cls.code
    for cls in (
        errors.ValidationException,
        errors.SerializationException,
        errors.UnknownOperationException,
        errors.MissingAuthenticationTokenException,
        errors.UnrecognizedClientException,
        errors.InvalidSignatureException,
        errors.IncompleteSignatureException,
        errors.RequestExpired,
        errors.RequestEntityTooLargeException,
        errors.ThrottlingException,
        errors.RequestTimeoutException,
        errors.NotImplementedOperationException,
        errors.AccessDeniedException,
    )
}

#: Errors findmatches answers beyond an operation's modelled ones, on purpose and documented (docs/api.md,
#: "Quotas"): every Start… operation counts towards the 3 active runs per transform and 30 per account,
#: though Glue's model lists ConcurrentRunsExceededException only for some of them.
DOCUMENTED_EXTRA = {
    "StartImportLabelsTaskRun": {"ConcurrentRunsExceededException"},
    "StartExportLabelsTaskRun": {"ConcurrentRunsExceededException"},
}


def _family(op: str) -> str:
    if op in ("GetTags", "TagResource", "UntagResource"):
        return "tags"
    if "Labels" in op:
        return "labels"
    if "TaskRun" in op:
        return "task_runs"
    if "MLTransform" in op:
        return "transforms"
    if "Database" in op or "Table" in op:
        return "catalog"
    return "other"


FAMILIES: dict[str, list[str]] = defaultdict(list)
for _op in IMPLEMENTED:
    FAMILIES[_family(_op)].append(_op)
#: "other": operations of the model that findmatches does not implement, bogus targets, paths and methods.
UNIMPLEMENTED = sorted(set(MODEL.operation_names) - set(IMPLEMENTED))
FAMILY_NAMES = ["transforms", "task_runs", "labels", "catalog", "tags", "other"]

#: (kind, weight): what is done to a body drawn from the model.
KINDS = [
    ("valid", 16),
    ("seeded", 12),
    ("boundary", 14),
    ("invalid", 12),
    ("wrong_type", 10),
    ("unknown_or_null", 5),
    ("deep", 6),
    ("huge", 2),
    ("bad_utf8", 6),
    ("duplicate_keys", 6),
    ("not_object", 5),
]
#: (signing, weight): how it is signed; only "good" reaches the provider.
SIGNINGS = [
    ("good", 88),
    ("unsigned", 2),
    ("wrong_secret", 2),
    ("unknown_key", 1),
    ("wrong_service", 1),
    ("bad_region", 1),
    ("stale_date", 1),
    ("tampered_body", 2),
    ("duplicate_auth", 1),
    ("garbage_auth", 1),
]


# -- the pool of model-drawn values -----------------------------------------------------------------


def draw_pool(op_name: str, count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` valid requests for ``op_name`` from the model, as wire JSON (deterministic for ``seed``)."""
    op = MODEL.operation_model(op_name)
    if op.input_shape is None:
        return [{}]
    drawn: list[dict[str, Any]] = []
    serializer = serialize.create_serializer("json")

    @hypothesis_seed(seed)
    @settings(
        max_examples=count,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(values(op.input_shape))
    def collect(params: dict[str, Any]) -> None:
        body = serializer.serialize_to_request(params, op)["body"]
        drawn.append(json.loads(body or b"{}"))

    collect()
    return drawn or [{}]


# -- shape walking -----------------------------------------------------------------------------------


def member_paths(shape: Shape, depth: int = 0) -> Iterator[tuple[list[str], Shape]]:
    """(path, shape) of every member down to a few levels; "[]" steps into a list, "{}" into a map."""
    if depth > 4:
        return
    if isinstance(shape, StructureShape):
        for name, member in shape.members.items():
            yield [name], member
            for rest, leaf in member_paths(member, depth + 1):
                yield [name, *rest], leaf
    elif shape.type_name == "list":
        for rest, leaf in member_paths(shape.member, depth + 1):  # type: ignore[attr-defined]
            yield ["[]", *rest], leaf
    elif shape.type_name == "map":
        for rest, leaf in member_paths(shape.value, depth + 1):  # type: ignore[attr-defined]
            yield ["{}", *rest], leaf


def put(params: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``value`` at ``path``, making the containers on the way (a list of one, a map of one)."""
    node: Any = params
    for step, following in zip(path, [*path[1:], None], strict=True):
        fresh: Any = [] if following == "[]" else {}
        if following is None:
            fresh = value
        if step == "[]":
            if not isinstance(node, list):
                return
            if not node:
                node.append(fresh)
            index = 0 if following is not None else len(node) - 1
            if following is None:
                node[index] = value
            elif not isinstance(node[index], list | dict):
                node[index] = fresh
            node = node[index]
        elif step == "{}":
            if not isinstance(node, dict):
                return
            key = next(iter(node), "k")
            if following is None or not isinstance(node.get(key), list | dict):
                node[key] = fresh
            node = node[key]
        else:
            if not isinstance(node, dict):
                return
            if following is None or not isinstance(node.get(step), list | dict):
                node[step] = fresh
            node = node[step]


def _fill(shape: Shape, length: int) -> str:
    """A string of ``length`` that matches the shape's pattern where one character repeated can."""
    pattern = shape.metadata.get("pattern")
    compiled = python_pattern(pattern) if pattern else None
    for char in "aA0x_ -.é":
        if compiled is None or compiled.fullmatch(char * max(length, 1)) or length == 0:
            return char * length
    return "a" * length


#: Bytes a boundary or invalid value may take (the "huge" kind goes to the body limit and beyond).
VALUE_BUDGET = 1 << 20


def boundary_value(shape: Shape, rng: random.Random, budget: int = VALUE_BUDGET) -> Any:
    """A value at an edge of ``shape``: min or max length, count or value, first or last enum member.

    Lengths and counts are held within ``budget`` (bytes), shared out among a collection's items, so that a
    list of lists of long strings stays a request and not half a gigabyte.
    """
    meta = shape.metadata
    kind = shape.type_name
    if kind == "string":
        enum = getattr(shape, "enum", None)
        if enum:
            return rng.choice([enum[0], enum[-1]])
        low, high = meta.get("min", 0), meta.get("max", 2048)
        return _fill(shape, min(rng.choice([low, high, max(low, 1)]), budget))
    if kind in ("integer", "long"):
        bits = 31 if kind == "integer" else 63
        return rng.choice([meta.get("min", -(2**bits)), meta.get("max", 2**bits - 1), 0])
    if kind in ("double", "float"):
        return rng.choice(
            [meta.get("min", -1.7976931348623157e308), meta.get("max", 1.7976931348623157e308), 0.0]
        )
    if kind in ("list", "map"):
        low, high = meta.get("min", 0), min(meta.get("max", 100), 1000)
        count = min(rng.choice([low, high]), max(low, budget // 16))
        inner = shape.member if kind == "list" else shape.value  # type: ignore[attr-defined]
        item = boundary_value(inner, rng, max(16, budget // max(count, 1)))
        if kind == "list":
            return [item] * count
        key_shape = shape.key  # type: ignore[attr-defined]
        return {
            _fill(key_shape, max(1, key_shape.metadata.get("min", 1))) + str(i): item for i in range(count)
        }
    if kind == "timestamp":
        return rng.choice([0, 253402300799, -62135596800, "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
    if kind == "boolean":
        return rng.choice([True, False])
    if kind == "blob":
        return rng.choice(["", base64.b64encode(b"\0" * 64).decode()])
    return {}


def invalid_value(shape: Shape, rng: random.Random) -> Any:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "string":
        choices: list[Any] = [
            "\x00",
            "../../etc/passwd",
            "a\nb",
            "💥" * 3,
            "\ud800",
            "\udfff\ud800",
            "\u202e\ufeff",
            "' OR 1=1 --",
            "%s%n%x",
            "${jndi:ldap://x}",
            "=cmd|'/C calc'!A0",
            "s3://../x",
            "file:///etc/passwd",
            "A" * 300,
        ]
        if "max" in meta and meta["max"] < VALUE_BUDGET:
            choices.append(_fill(shape, meta["max"] + 1))
        if meta.get("min", 0) > 0:
            choices.append(_fill(shape, meta["min"] - 1))
        if getattr(shape, "enum", None):
            choices += [shape.enum[0].lower(), shape.enum[0] + " ", "", "NONE"]  # type: ignore[attr-defined]
        return rng.choice(choices)
    if kind in ("integer", "long", "double", "float"):
        choices = [2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**400, 1.5, -0.0, 1e308, -1e308, 5e-324]
        if "max" in meta:
            choices.append(meta["max"] + 1)
        if "min" in meta:
            choices.append(meta["min"] - 1)
        return rng.choice(choices)
    if kind == "timestamp":
        return rng.choice(["not-a-date", "9999-99-99", -1e20, 1e300, "2024-02-30T00:00:00Z", "", 10**30])
    if kind == "blob":
        return rng.choice(["***", "=", "a", "\x00"])
    if kind in ("list", "map"):
        count = min(meta.get("max", 1000) + 1, 5000)
        inner = shape.member if kind == "list" else shape.value  # type: ignore[attr-defined]
        item = boundary_value(inner, rng, max(16, VALUE_BUDGET // count))
        if kind == "list":
            return [item] * count
        return {f"k{i}": item for i in range(count)}
    return rng.choice([[], "x", 1])


WRONG_TYPES: list[Any] = [None, True, False, 0, -1, 1.5, "", "1", "true", [], [1], {}, {"a": 1}, [[]], [{}]]


def wrong_type(shape: Shape, rng: random.Random) -> Any:
    kind = shape.type_name
    for _ in range(20):
        value = rng.choice(WRONG_TYPES)
        if kind == "string" and not isinstance(value, str):
            return value
        if kind in ("integer", "long", "double", "float") and not isinstance(value, int | float):
            return value
        if kind == "boolean" and not isinstance(value, bool):
            return value
        if kind in ("structure", "map") and not isinstance(value, dict):
            return value
        if kind == "list" and not isinstance(value, list):
            return value
        if kind in ("timestamp", "blob"):
            return value
    return None


def nest(depth: int, rng: random.Random) -> Any:
    """A value nested ``depth`` levels (lists, maps or both), built without recursion."""
    value: Any = rng.choice([1, "x", None, [], {}])
    style = rng.choice(["list", "map", "mixed"])
    for level in range(depth):
        as_list = style == "list" or (style == "mixed" and level % 2)
        value = [value] if as_list else {"a": value}
    return value


def dumps_deep(value: Any) -> str:
    """JSON text of a (possibly very deeply) nested value, without recursion."""
    prefix: list[str] = []
    suffix: list[str] = []
    while isinstance(value, list | dict) and len(value) == 1:
        if isinstance(value, list):
            prefix.append("[")
            suffix.append("]")
            value = value[0]
        else:
            key = next(iter(value))
            prefix.append("{" + json.dumps(key) + ":")
            suffix.append("}")
            value = value[key]
    return "".join(prefix) + json.dumps(value) + "".join(reversed(suffix))


# -- building one request ---------------------------------------------------------------------------


@dataclass
class Seeds:
    """Resources the fuzz creates first, so that some requests reach past the not-found checks."""

    transform_id: str = ""
    arn: str = ""
    files: Path = Path()
    values: dict[str, list[Any]] = field(default_factory=dict)


@dataclass
class Request:
    family: str
    index: int
    operation: str
    kind: str
    signing: str
    target: str | None
    body: bytes
    method: str = "POST"
    path: str = "/"


SEED_EXEMPT = ("DeleteMLTransform", "DeleteDatabase", "DeleteTable")


def seeded(params: Any, seeds: Seeds, rng: random.Random) -> Any:
    if isinstance(params, dict):
        out = {}
        for key, value in params.items():
            if key in seeds.values and isinstance(value, str):
                out[key] = rng.choice(seeds.values[key])
            else:
                out[key] = seeded(value, seeds, rng)
        return out
    if isinstance(params, list):
        return [seeded(v, seeds, rng) for v in params]
    return params


def _encode(params: Any) -> bytes:
    return json.dumps(params, ensure_ascii=rng_free_ascii(params)).encode("utf-8", "surrogatepass")


def rng_free_ascii(params: Any) -> bool:
    """ASCII escapes when the value holds a lone surrogate (which UTF-8 cannot carry), raw UTF-8 otherwise."""
    try:
        json.dumps(params, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _random_member(shape: StructureShape | None, rng: random.Random) -> tuple[list[str], Shape] | None:
    if shape is None or not shape.members:
        return None
    paths = list(member_paths(shape))
    # the top level more often: that is where most members are checked first
    top = [p for p in paths if len(p[0]) == 1]
    return rng.choice(top if rng.random() < 0.5 else paths)


def _bad_utf8(text: bytes, rng: random.Random) -> bytes:
    bad = rng.choice(
        [
            b"\xff",
            b"\xc3\x28",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
            b"\xe2\x82",
            b"\xf4\x90\x80\x80",
            b"\x80",
            b"\xfe\xff",
        ]
    )
    where = rng.choice(["in_string", "prefix", "suffix", "utf16", "bom"])
    if where == "utf16":
        return text.decode("utf-8", "surrogatepass").encode("utf-16", "surrogatepass")
    if where == "bom":
        return b"\xef\xbb\xbf" + text
    if where == "prefix":
        return bad + text
    if where == "suffix":
        return text + bad
    quote = text.find(b':"')
    if quote < 0:
        return text[:1] + b'"' + bad + b'":1,' + text[1:] if text.startswith(b"{") and len(text) > 2 else bad
    return text[: quote + 2] + bad + text[quote + 2 :]


def _duplicate_keys(params: dict[str, Any], shape: StructureShape | None, rng: random.Random) -> bytes:
    """The object written out by hand with one member twice (a valid and a broken value, in either order)."""
    items = [(k, json.dumps(v)) for k, v in params.items()]
    names = list(shape.members) if shape is not None and shape.members else ["X"]
    name = rng.choice([k for k, _ in items] or names)
    other = json.dumps(rng.choice([*WRONG_TYPES, "duplicate", "x" * 100]))
    copy = (name, other)
    if rng.random() < 0.5:
        items.insert(0, copy)
    else:
        items.append(copy)
    if rng.random() < 0.3:  # a duplicate inside a nested object too
        items.append(("Nested", '{"a":1,"a":2,"a":{"b":1,"b":[1]}}'))
    return ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in items) + "}").encode()


NOT_OBJECTS = [
    b"",
    b" ",
    b"[]",
    b"[{}]",
    b"null",
    b"true",
    b"0",
    b"-0",
    b"1e999",
    b"NaN",
    b"Infinity",
    b'"text"',
    b"{",
    b"}",
    b"{}}",
    b"{}{}",
    b'{"a":}',
    b"{'a': 1}",
    b'{"a":1,}',
    b"\x00",
    b"\n\t{}\n",
    b"/* c */{}",
    b'{"a":"\\ud800"}',
    b'{"a":"\\x41"}',
    b'{"a":01}',
    b'{"a":1e400}',
    b'{"a":-1e400}',
    b'{"a":' + b"9" * 5000 + b"}",
]


def make_request(
    family: str, index: int, seed: int, seeds: Seeds, pools: dict[str, list[dict[str, Any]]]
) -> Request:
    """The request ``index`` of ``family``: a pure function of its arguments."""
    rng = random.Random(f"{seed}:{family}:{index}")
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    signing = rng.choices([s for s, _ in SIGNINGS], [w for _, w in SIGNINGS])[0]
    method, path = "POST", "/"
    if family == "other":
        donor = rng.choice(IMPLEMENTED)
        operation = rng.choice(UNIMPLEMENTED)
        target: str | None = rng.choices(
            [
                f"AWSGlue.{operation}",
                f"AWSGlue.{donor}",
                f"AWSGlue.{donor.lower()}",
                f"awsglue.{donor}",
                f"AWSGlue.{donor} ",
                f"AWSGlue.{donor},AWSGlue.{donor}",
                "AWSGlue.",
                "AWSGlue",
                "",
                None,
                "AWSGlue.__init__",
                "AWSGlue.close",
                "AWSGlue._start",
                "AWSGlue.db",
                "AmazonS3.ListBuckets",
                "AWSGlue." + "A" * 5000,
                "AWSGlue.Get\u00e9",
            ],
            [30, 10, 3, 3, 2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 2, 1, 1],
        )[0]
        if target is not None and target.startswith("AWSGlue." + donor) and target != f"AWSGlue.{donor}":
            operation = donor
        elif target == f"AWSGlue.{donor}":
            operation = donor
            if rng.random() < 0.5:
                method, path = rng.choice(
                    [("GET", "/"), ("PUT", "/"), ("POST", "/x"), ("POST", "/?a=b"), ("DELETE", "/")]
                )
        shape_op = donor
    else:
        operation = rng.choice(FAMILIES[family])
        target = f"AWSGlue.{operation}"
        shape_op = operation
    op = MODEL.operation_model(shape_op)
    shape = op.input_shape
    params = json.loads(json.dumps(rng.choice(pools[shape_op])))  # a copy
    if shape_op not in SEED_EXEMPT and (kind == "seeded" or rng.random() < 0.25):
        params = seeded(params, seeds, rng)
    body: bytes
    if kind in ("valid", "seeded"):
        body = json.dumps(params).encode()
    elif kind in ("boundary", "invalid", "wrong_type"):
        picked = _random_member(shape, rng)
        if picked is not None:
            where, leaf = picked
            make: Callable[[Shape, random.Random], Any] = {
                "boundary": boundary_value,
                "invalid": invalid_value,
                "wrong_type": wrong_type,
            }[kind]
            put(params, where, make(leaf, rng))
        body = _encode(params)
    elif kind == "unknown_or_null":
        picked = _random_member(shape, rng)
        choice = rng.randrange(4)
        if choice == 0 and picked is not None:
            put(params, picked[0], None)
        elif choice == 1:
            params[rng.choice(["Unknown", "__proto__", "", "transformId", "\u0000", "constructor"])] = (
                rng.choice(WRONG_TYPES)
            )
        elif choice == 2 and shape is not None:
            for name in shape.required_members:
                params.pop(name, None)
        else:
            params = {k: None for k in params} or {"X": None}
        body = _encode(params)
    elif kind == "deep":
        depth = rng.choice([32, 100, 500, 900, 990, 1000, 1100, 5000, 20000, 100000])
        nested = nest(depth, rng)
        picked = _random_member(shape, rng)
        if rng.random() < 0.2 or picked is None:
            body = dumps_deep(nested).encode()
        else:
            name = picked[0][0]
            params.pop(name, None)
            inner = dumps_deep(nested)
            rest = json.dumps(params)
            body = (
                "{" + json.dumps(name) + ":" + inner + ("," + rest[1:] if len(rest) > 2 else "}")
            ).encode()
    elif kind == "huge":
        # up to the body limit and a little beyond; most well under it
        size = int(math.exp(rng.uniform(math.log(64 * 1024), math.log(MAX_BODY_BYTES + 256 * 1024))))
        picked = _random_member(shape, rng)
        filler = rng.choice(["a", "é", "\\u0041", " ", "💥", "\\\\"])
        count = max(1, size // len(filler.encode()))
        name = picked[0][0] if picked is not None else "Name"
        params.pop(name, None)
        if rng.random() < 0.2:
            many = min(count // 64, 200_000)
            huge = "[" + ",".join(['"' + "x" * 60 + '"'] * max(1, many)) + "]"
        else:
            huge = '"' + filler * count + '"'
        rest = json.dumps(params)
        body = ("{" + json.dumps(name) + ":" + huge + ("," + rest[1:] if len(rest) > 2 else "}")).encode()
    elif kind == "bad_utf8":
        body = _bad_utf8(json.dumps(params, ensure_ascii=False).encode("utf-8", "surrogatepass"), rng)
    elif kind == "duplicate_keys":
        body = _duplicate_keys(params, shape, rng)
    else:
        body = rng.choice(NOT_OBJECTS)
    return Request(family, index, operation, kind, signing, target, body, method, path)


# -- sending ----------------------------------------------------------------------------------------


def headers_for(request: Request, port: int, rng: random.Random) -> list[tuple[str, str]]:
    base = {"Content-Type": CONTENT_TYPE}
    if request.target is not None:
        base["X-Amz-Target"] = request.target
    signing = request.signing
    if signing == "unsigned":
        return list(base.items())
    key, secret, service, region = "test", "test", "glue", REGION
    if signing == "wrong_secret":
        secret = "not-the-secret"
    elif signing == "unknown_key":
        key = "AKIDNOBODY"
    elif signing == "wrong_service":
        service = rng.choice(["s3", "sts", "Glue", ""])
    elif signing == "bad_region":
        region = rng.choice(["", "US-EAST-1", "a" * 64, "../x", "us east 1", "-"])
    url = f"http://127.0.0.1:{port}{request.path}"
    aws = AWSRequest(method=request.method, url=url, data=request.body, headers=base)
    if signing == "stale_date":
        aws.context["timestamp"] = (
            dt.datetime.now(dt.UTC) - dt.timedelta(hours=rng.choice([1, 24, -1]))
        ).strftime("%Y%m%dT%H%M%SZ")
    SigV4Auth(Credentials(key, secret), service, region).add_auth(aws)
    headers = list(aws.headers.items())
    if signing == "duplicate_auth":
        headers.append(("Authorization", dict(headers)["Authorization"]))
    elif signing == "garbage_auth":
        headers = [(k, v) for k, v in headers if k != "Authorization"]
        headers.append(
            (
                "Authorization",
                rng.choice(["AWS4-HMAC-SHA256", "Bearer x", "AWS4-HMAC-SHA256 Credential=", "\u00ff" * 10]),
            )
        )
    return headers


@dataclass
class Outcome:
    request: Request
    status: int | None
    error_type: str | None
    latency_s: float
    problem: str | None = None
    reply: bytes = b""


class Sender:
    """One keep-alive connection per thread, opened again whenever the server closed it."""

    def __init__(self, port: int, timeout_s: float) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.local = threading.local()
        self.retries = 0

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout_s)
            self.local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self.local, "conn", None)
        if conn is not None:
            conn.close()
        self.local.conn = None

    def send(
        self, request: Request, headers: list[tuple[str, str]]
    ) -> tuple[int | None, dict[str, str], bytes, str | None]:
        """(status, headers, body, transport problem). A kept-alive connection that the server had closed
        meanwhile (its keep-alive timeout) is retried once on a new one, as HTTP clients do."""
        for attempt in (1, 2):
            reused = getattr(self.local, "conn", None) is not None
            status, reply_headers, payload, problem = self._send_once(request, headers)
            if status is None and reused and attempt == 1 and problem != "timeout":
                self.retries += 1
                continue
            return status, reply_headers, payload, problem
        raise AssertionError("unreachable")

    def _send_once(
        self, request: Request, headers: list[tuple[str, str]]
    ) -> tuple[int | None, dict[str, str], bytes, str | None]:
        conn = self._conn()
        sent_error: str | None = None
        try:
            conn.putrequest(request.method, request.path, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value if value.isascii() else value.encode("utf-8"))
            conn.putheader("Content-Length", str(len(request.body)))
            conn.endheaders(request.body)
        except (BrokenPipeError, ConnectionResetError) as e:
            sent_error = type(e).__name__  # the server may have answered early (a body over the limit)
        except OSError as e:
            self._drop()
            return None, {}, b"", f"send: {type(e).__name__}: {e}"
        try:
            response = conn.getresponse()
            payload = response.read()
            headers_out = {k.lower(): v for k, v in response.getheaders()}
            if response.will_close:
                self._drop()
            return response.status, headers_out, payload, None
        except TimeoutError:
            self._drop()
            return None, {}, b"", "timeout"
        except (OSError, http.client.HTTPException) as e:
            self._drop()
            return None, {}, b"", f"{sent_error or 'receive'}: {type(e).__name__}: {e}"


def check(
    request: Request, status: int | None, headers: dict[str, str], payload: bytes
) -> tuple[str | None, str | None]:
    """(error type, problem): what is wrong with this answer, if anything."""
    if status is None:
        return None, None
    try:
        answer = json.loads(payload)
    except ValueError:
        return None, "answer is not JSON"
    if not isinstance(answer, dict):
        return None, "answer is not a JSON object"
    if status >= 500:
        return answer.get("__type"), "5xx"
    if status < 300:
        return None, None
    error_type = answer.get("__type")
    if not error_type or not answer.get("Message"):
        return error_type, "error without __type or Message"
    if headers.get("x-amzn-errortype") != error_type:
        return error_type, "x-amzn-ErrorType differs from __type"
    allowed = set(COMMON_ERRORS)
    if request.operation in MODEL.operation_names:
        allowed |= {e.name for e in MODEL.operation_model(request.operation).error_shapes}
        allowed |= DOCUMENTED_EXTRA.get(request.operation, set())
    if error_type not in allowed:
        return error_type, f"{error_type} is not an error of {request.operation}"
    return error_type, None


def exchange(sender: Sender, port: int, request: Request, seed: int, hang_s: float) -> Outcome:
    """Sign (or not) and send ``request``, time it and check its answer."""
    rng = random.Random(f"{seed}:{request.family}:{request.index}:sign")
    headers = headers_for(request, port, rng)
    if request.signing == "tampered_body":
        request.body = request.body + b" "
    began = time.perf_counter()
    status, reply_headers, payload, transport = sender.send(request, headers)
    latency = time.perf_counter() - began
    error_type, problem = check(request, status, reply_headers, payload)
    if transport is not None:
        problem = transport
    if latency > hang_s:
        problem = f"hang: {latency:.1f}s" + (f" ({problem})" if problem else "")
    return Outcome(request, status, error_type, latency, problem, payload[:600] if problem else b"")


# -- the server and its seeds -----------------------------------------------------------------------


class FuzzServer(Server):
    """The server under fuzz: no per-account rate limit, a local root of its own, and an S3 endpoint where
    nothing listens (S3 calls are refused at once)."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.files = root / "files"
        self.files.mkdir()
        dead_s3 = free_port()
        creds = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}
        super().__init__(
            root / "data",
            allow=[self.files],
            env={**creds, **(env or {})},
            args=["--s3-endpoint-url", f"http://127.0.0.1:{dead_s3}", "--account-rate", "0"],
            log_path=root / "server.log",
        )

    def rss_kib(self) -> int | None:
        try:
            return int(self.rss_mib() * 1024)
        except (OSError, ValueError):
            return None


def call(port: int, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(params).encode()
    request = Request("setup", 0, operation, "valid", "good", f"AWSGlue.{operation}", body)
    status, _, payload, problem = Sender(port, 30).send(request, headers_for(request, port, random.Random(0)))
    if status != 200:
        raise SystemExit(f"setup {operation} failed: {status} {problem} {payload[:300]!r}")
    result: dict[str, Any] = json.loads(payload)
    return result


def seed_resources(port: int, files: Path) -> Seeds:
    """A database, a table over a small CSV under ``files``, a transform and a run, made through the API."""
    rows = ["id,name,city"] + [f"r{i},name {i % 7},city {i % 3}" for i in range(40)]
    (files / "people").mkdir()
    (files / "people" / "people.csv").write_text("\n".join(rows) + "\n")
    labels = ["labeling_set_id,label,id,name,city"] + [
        f"set{i // 4},L{i // 2},r{i},name {i % 7},city {i % 3}" for i in range(12)
    ]
    (files / "labels.csv").write_text("\n".join(labels) + "\n")
    call(port, "CreateDatabase", {"DatabaseInput": {"Name": "fuzzdb"}})
    call(
        port,
        "CreateTable",
        {
            "DatabaseName": "fuzzdb",
            "TableInput": {
                "Name": "people",
                "Parameters": {"classification": "csv"},
                "StorageDescriptor": {
                    "Location": (files / "people").as_uri() + "/",
                    "Columns": [{"Name": c, "Type": "string"} for c in ("id", "name", "city")],
                },
            },
        },
    )
    transform_id = call(
        port,
        "CreateMLTransform",
        {
            "Name": "fuzz-seed",
            "InputRecordTables": [{"DatabaseName": "fuzzdb", "TableName": "people"}],
            "Parameters": {
                "TransformType": "FIND_MATCHES",
                "FindMatchesParameters": {"PrimaryKeyColumnName": "id"},
            },
            "Role": "arn:aws:iam::000000000000:role/fuzz",
        },
    )["TransformId"]
    arn = f"arn:aws:glue:{REGION}:000000000000:mlTransform/{transform_id}"
    run_id = call(
        port,
        "StartMLLabelingSetGenerationTaskRun",
        {"TransformId": transform_id, "OutputS3Path": str(files / "out")},
    )["TaskRunId"]
    paths = [
        str(files / "labels.csv"),
        (files / "labels.csv").as_uri(),
        str(files / "out"),
        str(files / "missing.csv"),
        "s3://fuzz-bucket/labels.csv",
        str(files / ".." / "escape"),
    ]
    return Seeds(
        transform_id,
        arn,
        files,
        {
            "TransformId": [transform_id],
            "TaskRunId": [run_id, "0" * 32],
            "DatabaseName": ["fuzzdb"],
            "TableName": ["people"],
            "Name": ["people", "fuzzdb", "fuzz-seed"],
            "ResourceArn": [arn],
            "InputS3Path": paths,
            "OutputS3Path": paths,
            "Location": [(files / "people").as_uri() + "/", "s3://fuzz-bucket/x/"],
            "PrimaryKeyColumnName": ["id", "name", "nope"],
        },
    )


# -- the run ----------------------------------------------------------------------------------------


def percentile(values_: list[float], q: float) -> float:
    if not values_:
        return float("nan")
    ordered = sorted(values_)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def slope_per_10k(samples: list[tuple[int, int]]) -> float:
    """Least-squares slope of RSS (MiB) against requests done, per 10,000 requests."""
    if len(samples) < 2:
        return float("nan")
    xs = [float(n) for n, _ in samples]
    ys = [kib / 1024 for _, kib in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        return float("nan")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 10_000


def preview(body: bytes, limit: int = 600) -> str:
    head = body[:limit].decode("utf-8", "backslashreplace")
    return head + (f"… ({len(body):,} bytes)" if len(body) > limit else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-family", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--pool", type=int, default=40, help="model-drawn requests per operation to start from"
    )
    parser.add_argument("--hang-s", type=float, default=10.0, help="an answer slower than this is a hang")
    parser.add_argument("--families", default=",".join(FAMILY_NAMES))
    parser.add_argument("--json", default="fuzz_api.json")
    parser.add_argument("--server-log", help="keep the server's log at this path")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        help="NAME=VALUE for the server's environment (repeatable)",
    )
    parser.add_argument("--replay", help="FAMILY:INDEX: print that request's body and exit")
    args = parser.parse_args()
    families = [f for f in args.families.split(",") if f]

    started = time.monotonic()
    pools = {op: draw_pool(op, args.pool, args.seed) for op in IMPLEMENTED}
    print(
        f"drew {sum(len(p) for p in pools.values())} model requests for {len(pools)} operations in {time.monotonic() - started:.1f}s"
    )
    print(
        "families: "
        + "; ".join(
            f"{f}: {', '.join(FAMILIES[f]) or 'unimplemented ops, bogus targets'}" for f in FAMILY_NAMES
        )
    )

    with tempfile.TemporaryDirectory(prefix="fuzz-api-") as tmp:
        server = FuzzServer(Path(tmp), dict(item.split("=", 1) for item in args.server_env))
        try:
            seeds = seed_resources(server.port, server.files)
            if args.replay:
                family, index = args.replay.split(":")
                request = make_request(family, int(index), args.seed, seeds, pools)
                print(request.operation, request.kind, request.signing, request.target)
                sys.stdout.buffer.write(request.body[:4000] + b"\n")
                return
            report = campaign(server, seeds, pools, families, args)
        finally:
            alive = server.alive()
            server.stop()
            log_tail = server.log_path.read_text(errors="replace")
            if args.server_log:
                Path(args.server_log).write_text(log_tail)
    report["server_alive_at_end"] = alive
    report["tracebacks_in_log"] = log_tail.count("Traceback")
    report["log_status_5xx"] = log_tail.count("status=5")
    print(f"\nserver alive at the end: {alive}; tracebacks in its log: {report['tracebacks_in_log']}")
    write_json(args.json, report)


def campaign(
    server: FuzzServer,
    seeds: Seeds,
    pools: dict[str, list[dict[str, Any]]],
    families: list[str],
    args: argparse.Namespace,
) -> dict[str, Any]:
    sender = Sender(server.port, timeout_s=max(60.0, args.hang_s * 3))
    done = 0
    lock = threading.Lock()
    samples: list[tuple[int, int]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss = server.rss_kib()
            if rss is not None:
                with lock:
                    samples.append((done, rss))
            stop.wait(0.25)

    def one(job: tuple[str, int]) -> Outcome:
        nonlocal done
        outcome = exchange(
            sender, server.port, make_request(*job, args.seed, seeds, pools), args.seed, args.hang_s
        )
        with lock:
            done += 1
        return outcome

    jobs = [(f, i) for i in range(args.per_family) for f in families]  # interleaved: memory is one run
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.monotonic()
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(args.threads) as pool:
        for count, outcome in enumerate(pool.map(one, jobs), 1):
            outcomes.append(outcome)
            if count % 5000 == 0:
                print(f"  {count:,} / {len(jobs):,} requests, {time.monotonic() - began:.0f}s", flush=True)
    elapsed = time.monotonic() - began
    stop.set()
    sampler.join()

    rows, code_rows, failures = [], [], []
    by_family: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_family[o.request.family].append(o)
    for family in families:
        got = by_family[family]
        lat = [o.latency_s * 1000 for o in got]
        statuses = Counter(o.status for o in got)
        codes = Counter((o.status, o.error_type) for o in got if o.status is not None and o.status >= 400)
        kinds = Counter(o.request.kind for o in got)
        rows.append(
            {
                "family": family,
                "requests": len(got),
                "2xx": sum(n for s, n in statuses.items() if s is not None and s < 300),
                "4xx": sum(n for s, n in statuses.items() if s is not None and 400 <= s < 500),
                "5xx": sum(n for s, n in statuses.items() if s is not None and s >= 500),
                "no answer": statuses.get(None, 0),
                "hangs": sum(1 for o in got if o.problem and o.problem.startswith("hang")),
                "other problems": sum(
                    1 for o in got if o.problem and not o.problem.startswith("hang") and o.problem != "5xx"
                ),
                "p50 ms": percentile(lat, 0.50),
                "p99 ms": percentile(lat, 0.99),
                "max ms": max(lat) if lat else float("nan"),
                "kinds": dict(sorted(kinds.items())),
            }
        )
        for (status, code), n in sorted(codes.items(), key=lambda x: (-x[1], str(x[0]))):
            code_rows.append({"family": family, "status": status, "__type": code, "count": n})
    for o in outcomes:
        if o.problem:
            failures.append(
                {
                    "family": o.request.family,
                    "index": o.request.index,
                    "operation": o.request.operation,
                    "target": o.request.target,
                    "kind": o.request.kind,
                    "signing": o.request.signing,
                    "status": o.status,
                    "problem": o.problem,
                    "latency_ms": round(o.latency_s * 1000, 1),
                    "body": preview(o.request.body),
                    "answer": preview(o.reply, 300),
                }
            )
    print_table(
        f"Hostile input: {len(outcomes):,} requests in {elapsed:.0f}s ({len(outcomes) / elapsed:,.0f}/s), "
        f"{args.threads} threads, seed {args.seed}",
        [{k: v for k, v in r.items() if k != "kinds"} for r in rows],
    )
    print_table("Errors by family and __type", code_rows)
    rss = [kib / 1024 for _, kib in samples]
    half = [s for s in samples if s[0] >= len(outcomes) // 2]
    memory = {
        "samples": len(samples),
        "first_mib": round(rss[0], 1) if rss else None,
        "last_mib": round(rss[-1], 1) if rss else None,
        "max_mib": round(max(rss), 1) if rss else None,
        "slope_mib_per_10k": round(slope_per_10k(samples), 2),
        "slope_second_half_mib_per_10k": round(slope_per_10k(half), 2),
    }
    print_table("Server RSS (VmRSS through /proc)", [memory])
    print(f"kept-alive connections the server had closed, retried once on a new one: {sender.retries}")
    if failures:
        print_table(
            f"Failures ({len(failures)}, first 20)",
            [
                {k: f[k] for k in ("family", "index", "operation", "kind", "signing", "status", "problem")}
                for f in failures[:20]
            ],
        )
    return {
        "seed": args.seed,
        "server_env": args.server_env,
        "per_family": args.per_family,
        "threads": args.threads,
        "hang_s": args.hang_s,
        "max_body_bytes": MAX_BODY_BYTES,
        "families": {f: FAMILIES[f] for f in families if f != "other"}
        | {"other": ["unimplemented Glue operations", "bogus targets, methods and paths"]},
        "elapsed_s": round(elapsed, 1),
        "requests": len(outcomes),
        "summary": rows,
        "errors": code_rows,
        "memory": memory,
        "rss_samples": samples[:: max(1, len(samples) // 400)],
        "failures": failures[:500],
        "failure_count": len(failures),
        "connection_retries": sender.retries,
    }


if __name__ == "__main__":
    main()
