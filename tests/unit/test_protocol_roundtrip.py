"""Both directions of the wire for every operation the provider implements, against botocore itself.

(a) botocore's serializer writes a request that ``parse_request`` reads back as the same arguments;
(b) ``serialize_result`` writes a result that botocore's parser reads back as the same result.
"""

from __future__ import annotations

import calendar
import datetime as dt
import inspect
import json
from typing import Any

import pytest
from botocore import parsers, serialize, xform_name
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findmatches.aws.protocol import parse_request, serialize_result
from findmatches.aws.spec import glue_model
from findmatches.service.context import RequestContext
from findmatches.service.provider import GlueProvider
from tests.unit.glue_strategies import values

IMPLEMENTED = sorted(op for op in glue_model().operation_names if hasattr(GlueProvider, xform_name(op)))
EXAMPLES = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def _op(name: str) -> OperationModel:
    return glue_model().operation_model(name)


def _wire_epoch(value: dt.datetime) -> float:
    """What botocore's JSON serializer sends for a datetime (seconds, with microseconds)."""
    return (calendar.timegm(value.timetuple()) * 10**6 + value.microsecond) / 10**6


def _expected_arg(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "timestamp":
        return _wire_epoch(value)
    if kind == "structure":
        return {k: _expected_arg(shape.members[k], v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "list":
        return [_expected_arg(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _expected_arg(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind in ("double", "float"):
        return float(value)
    return value


def _expected_result(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "timestamp":
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if kind == "structure":
        return {k: _expected_result(shape.members[k], v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "list":
        return [_expected_result(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _expected_result(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    return value


def _botocore_body(op: OperationModel, params: dict[str, Any]) -> bytes:
    request = serialize.create_serializer("json").serialize_to_request(params, op)
    body = request["body"]
    return body if isinstance(body, bytes) else body.encode("utf-8")


def _botocore_parse(op: OperationModel, body: bytes) -> dict[str, Any]:
    response = {"status_code": 200, "headers": {"x-amzn-requestid": "r"}, "body": body}
    parsed: dict[str, Any] = parsers.create_parser("json").parse(response, op.output_shape)
    parsed.pop("ResponseMetadata", None)
    return parsed


def test_the_provider_implements_the_catalog_and_transform_operations() -> None:
    assert {
        "CreateDatabase",
        "GetTables",
        "UpdateTable",
        "CreateMLTransform",
        "ListMLTransforms",
        "UpdateMLTransform",
        "TagResource",
        "UntagResource",
        "GetTags",
    } <= set(IMPLEMENTED)


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_botocore_request_parses_to_the_same_arguments(name: str) -> None:
    op = _op(name)
    shape = op.input_shape
    assert shape is not None

    @EXAMPLES
    @given(params=values(shape))
    def check(params: dict[str, Any]) -> None:
        args = parse_request(op, _botocore_body(op, params))
        expected = {xform_name(k): _expected_arg(shape.members[k], v) for k, v in params.items()}
        assert args == expected

    check()


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_our_result_parses_in_botocore_to_the_same_result(name: str) -> None:
    op = _op(name)
    shape = op.output_shape
    if shape is None:
        assert serialize_result(op, None) == b"{}"
        return

    @EXAMPLES
    @given(result=values(shape, for_request=False))
    def check(result: dict[str, Any]) -> None:
        body = serialize_result(op, result)
        assert _botocore_parse(op, body) == _expected_result(shape, result)

    check()


@pytest.mark.parametrize("name", IMPLEMENTED)
def test_provider_method_accepts_every_input_member(name: str) -> None:
    shape = _op(name).input_shape
    members = shape.members if shape is not None else {}
    method = getattr(GlueProvider, xform_name(name))
    kwargs = {xform_name(member): object() for member in members}
    inspect.signature(method).bind(object(), RequestContext("000000000000", "us-east-1"), **kwargs)


def test_hand_written_create_table_round_trip() -> None:
    """Nested structures keep model names; timestamps become epoch floats at any depth."""
    op = _op("CreateTable")
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    params = {
        "DatabaseName": "people",
        "TableInput": {
            "Name": "persons",
            "LastAccessTime": when,
            "StorageDescriptor": {
                "Columns": [
                    {"Name": "id", "Type": "string"},
                    {"Name": "name", "Type": "string", "Comment": "c"},
                ],
                "Location": "s3://bucket/persons/",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde"},
                "NumberOfBuckets": -1,
            },
            "Parameters": {"classification": "csv"},
        },
    }
    args = parse_request(op, _botocore_body(op, params))
    assert set(args) == {"database_name", "table_input"}
    assert args["table_input"]["LastAccessTime"] == pytest.approx(when.timestamp(), abs=1e-6)
    assert args["table_input"]["StorageDescriptor"]["Columns"][1] == {
        "Name": "name",
        "Type": "string",
        "Comment": "c",
    }


def test_hand_written_get_ml_transform_result() -> None:
    op = _op("GetMLTransform")
    result = {
        "TransformId": "tfm-" + "a" * 40,
        "Name": "people",
        "Status": "NOT_READY",
        "CreatedOn": 1_700_000_000.123,
        "LastModifiedOn": dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC),
        "InputRecordTables": [{"DatabaseName": "db", "TableName": "t"}],
        "Parameters": {
            "TransformType": "FIND_MATCHES",
            "FindMatchesParameters": {"PrimaryKeyColumnName": "id", "PrecisionRecallTradeoff": 0.5},
        },
        "LabelCount": 0,
        "Schema": [{"Name": "id", "DataType": "string"}],
        "MaxCapacity": 10.0,
        "Description": None,
    }
    body = serialize_result(op, result)
    assert "Description" not in json.loads(body)
    parsed = _botocore_parse(op, body)
    assert parsed["CreatedOn"] == dt.datetime.fromtimestamp(1_700_000_000.123, dt.UTC)
    assert parsed["LastModifiedOn"] == result["LastModifiedOn"]
    assert parsed["Parameters"]["FindMatchesParameters"]["PrecisionRecallTradeoff"] == 0.5
    assert parsed["LabelCount"] == 0


@given(st.integers(0, 253_402_300_799))
def test_integer_timestamps_parse_to_floats(epoch: int) -> None:
    op = _op("GetMLTransforms")
    args = parse_request(op, json.dumps({"Filter": {"CreatedAfter": epoch}}).encode())
    assert args["filter"]["CreatedAfter"] == float(epoch)
    assert isinstance(args["filter"]["CreatedAfter"], float)
