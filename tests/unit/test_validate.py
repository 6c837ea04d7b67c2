"""Server-side validation of every model constraint, in AWS's ValidationException wording."""

from __future__ import annotations

import json
from typing import Any

import pytest

from findmatches.aws.errors import ValidationException
from findmatches.aws.protocol import parse_request
from findmatches.aws.spec import glue_model
from findmatches.aws.validate import validate

SL = "[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*"
TABLE = {"DatabaseName": "db", "TableName": "t"}
PARAMETERS = {"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}}
TRANSFORM = {"Name": "n", "InputRecordTables": [TABLE], "Parameters": PARAMETERS, "Role": "r"}


def _errors(operation: str, params: dict[str, Any]) -> str:
    shape = glue_model().operation_model(operation).input_shape
    with pytest.raises(ValidationException) as raised:
        validate(shape, params)
    assert raised.value.code == "ValidationException"
    assert raised.value.status == 400
    return raised.value.message


def _valid(operation: str, params: dict[str, Any]) -> None:
    validate(glue_model().operation_model(operation).input_shape, params)


def one(value: str, path: str, constraint: str) -> str:
    return (
        f"1 validation error detected: Value {value} at '{path}' failed to satisfy constraint: {constraint}"
    )


def test_valid_requests_pass() -> None:
    _valid("CreateMLTransform", TRANSFORM)
    _valid("GetMLTransforms", {"MaxResults": 1000, "Sort": {"Column": "NAME", "SortDirection": "ASCENDING"}})


def test_required_member() -> None:
    assert _errors("GetMLTransform", {}) == one("null", "transformId", "Member must not be null")
    assert _errors("GetMLTransform", {"TransformId": None}) == one(
        "null", "transformId", "Member must not be null"
    )


def test_every_missing_required_member_is_counted() -> None:
    message = _errors("CreateMLTransform", {})
    assert message.startswith("4 validation errors detected: ")
    for path in ("name", "inputRecordTables", "parameters", "role"):
        assert f"Value null at '{path}' failed to satisfy constraint: Member must not be null" in message
    assert message.count("; ") == 3


def test_multiple_errors_of_different_kinds() -> None:
    message = _errors(
        "GetMLTransforms", {"MaxResults": 0, "Sort": {"Column": "BOGUS", "SortDirection": "UP"}}
    )
    assert message.startswith("3 validation errors detected: Value ")
    assert (
        "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
        in message
    )
    assert "at 'sort.column' failed to satisfy constraint: Member must satisfy enum value set: [" in message
    assert "Value 'UP' at 'sort.sortDirection'" in message


@pytest.mark.parametrize(
    ("value", "constraint"),
    [
        (5, "Member must be of type string"),
        (True, "Member must be of type string"),
        ([], "Member must be of type string"),
    ],
)
def test_type_of_string(value: Any, constraint: str) -> None:
    assert _errors("GetMLTransform", {"TransformId": value}).endswith(
        f"at 'transformId' failed to satisfy constraint: {constraint}"
    )


@pytest.mark.parametrize(
    ("params", "path", "constraint"),
    [
        ({"MaxResults": "10"}, "maxResults", "Member must be of type integer"),
        ({"MaxResults": 1.5}, "maxResults", "Member must be of type integer"),
        ({"MaxResults": True}, "maxResults", "Member must be of type integer"),
        ({"Filter": "x"}, "filter", "Member must be a structure"),
        ({"Filter": {"Schema": {}}}, "filter.schema", "Member must be a list"),
        ({"Filter": {"CreatedBefore": [1]}}, "filter.createdBefore", "Member must be a timestamp"),
    ],
)
def test_types(params: dict[str, Any], path: str, constraint: str) -> None:
    assert f"at '{path}' failed to satisfy constraint: {constraint}" in _errors("GetMLTransforms", params)


def test_whole_number_float_is_an_integer() -> None:
    _valid("GetMLTransforms", {"MaxResults": 10.0})


def test_min_and_max_length() -> None:
    assert _errors("GetMLTransform", {"TransformId": ""}) == one(
        "''", "transformId", "Member must have length greater than or equal to 1"
    )
    long = "x" * 256
    assert _errors("GetMLTransform", {"TransformId": long}) == one(
        f"'{long}'", "transformId", "Member must have length less than or equal to 255"
    )
    _valid("GetMLTransform", {"TransformId": "x" * 255})


def test_length_counts_characters_not_bytes() -> None:
    _valid("GetMLTransform", {"TransformId": "é" * 255})


def test_min_and_max_value() -> None:
    assert _errors("GetMLTransforms", {"MaxResults": 1001}) == one(
        "'1001'", "maxResults", "Member must have value less than or equal to 1000"
    )
    params = {
        **TRANSFORM,
        "Parameters": {**PARAMETERS, "FindMatchesParameters": {"PrecisionRecallTradeoff": 1.5}},
    }
    assert _errors("CreateMLTransform", params) == one(
        "'1.5'",
        "parameters.findMatchesParameters.precisionRecallTradeoff",
        "Member must have value less than or equal to 1.0",
    )
    assert "Member must have value greater than or equal to 1" in _errors(
        "CreateMLTransform", {**TRANSFORM, "Timeout": 0}
    )


def test_list_length_and_nested_member_paths() -> None:
    too_many = [TABLE] * 11
    message = _errors("CreateMLTransform", {**TRANSFORM, "InputRecordTables": too_many})
    assert message.startswith("1 validation error detected: Value '[")
    assert message.endswith(
        "at 'inputRecordTables' failed to satisfy constraint: "
        "Member must have length less than or equal to 10"
    )
    nested = [TABLE, {"DatabaseName": "", "TableName": "t"}]
    assert _errors("CreateMLTransform", {**TRANSFORM, "InputRecordTables": nested}) == one(
        "''", "inputRecordTables.2.member.databaseName", "Member must have length greater than or equal to 1"
    )
    missing = [{"TableName": "t"}]
    assert _errors("CreateMLTransform", {**TRANSFORM, "InputRecordTables": missing}) == one(
        "null", "inputRecordTables.1.member.databaseName", "Member must not be null"
    )


def test_deep_nested_path_in_table_input() -> None:
    columns = [{"Name": "a"}, {"Name": "b", "Comment": "c" * 256}]
    params = {"DatabaseName": "db", "TableInput": {"Name": "t", "StorageDescriptor": {"Columns": columns}}}
    message = _errors("CreateTable", params)
    assert message.endswith(
        "at 'tableInput.storageDescriptor.columns.2.member.comment' failed to satisfy "
        "constraint: Member must have length less than or equal to 255"
    )


@pytest.mark.parametrize(
    "name", ["plain", "with space", "tab\there", "😀 astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0010fffd", "日本語"]
)
def test_single_line_pattern_accepts(name: str) -> None:
    _valid("CreateMLTransform", {**TRANSFORM, "Name": name})


@pytest.mark.parametrize("name", ["line\nbreak", "nul\x00", "bell\x07", "\ufffe", "\ud800"])
def test_single_line_pattern_refuses(name: str) -> None:
    assert _errors("CreateMLTransform", {**TRANSFORM, "Name": name}).endswith(
        f"at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: {SL}"
    )


def test_multi_line_pattern_accepts_line_breaks() -> None:
    _valid("CreateMLTransform", {**TRANSFORM, "Description": "two\r\nlines 😀"})


@pytest.mark.parametrize("version", ["1.0", "4.0", "auto", "glue.5_0.x"])
def test_glue_version_pattern_accepts(version: str) -> None:
    _valid("CreateMLTransform", {**TRANSFORM, "GlueVersion": version})


@pytest.mark.parametrize("version", ["1", "1.", ".1", "Auto", "1.0\n", "é.1", "١.٠"])
def test_glue_version_pattern_refuses(version: str) -> None:
    """Java's ``\\w`` is ASCII-only, so non-ASCII letters and digits do not match."""
    message = _errors("CreateMLTransform", {**TRANSFORM, "GlueVersion": version})
    assert message.endswith(
        r"at 'glueVersion' failed to satisfy constraint: Member must satisfy regular "
        r"expression pattern: ^((\w+\.)+\w+|auto)$"
    )


def test_enum() -> None:
    assert _errors("GetMLTransforms", {"Sort": {"Column": "BOGUS", "SortDirection": "ASCENDING"}}) == one(
        "'BOGUS'",
        "sort.column",
        "Member must satisfy enum value set: [NAME, TRANSFORM_TYPE, STATUS, CREATED, LAST_MODIFIED]",
    )
    assert "at 'parameters.transformType'" in _errors(
        "CreateMLTransform", {**TRANSFORM, "Parameters": {"TransformType": "find_matches"}}
    )


def test_map_entries_are_checked() -> None:
    assert "Member must have length less than or equal to 128" in _errors(
        "CreateMLTransform", {**TRANSFORM, "Tags": {"k" * 129: "v"}}
    )
    assert "Member must have length less than or equal to 50" in _errors(
        "CreateMLTransform", {**TRANSFORM, "Tags": {f"k{i}": "v" for i in range(51)}}
    )


def test_parse_request_validates_and_ignores_unknown_members() -> None:
    op = glue_model().operation_model("GetMLTransform")
    assert parse_request(op, json.dumps({"TransformId": "tfm-1", "Bogus": 1}).encode()) == {
        "transform_id": "tfm-1"
    }
    with pytest.raises(ValidationException, match="at 'transformId'"):
        parse_request(op, b'{"TransformId": ""}')


def test_at_most_ten_errors_are_listed_but_all_are_counted() -> None:
    columns = [{"Name": ""} for _ in range(12)]
    message = _errors(
        "CreateTable",
        {"DatabaseName": "db", "TableInput": {"Name": "t", "StorageDescriptor": {"Columns": columns}}},
    )
    assert message.startswith("12 validation errors detected: ")
    assert message.count("failed to satisfy constraint") == 10


def test_a_huge_value_is_quoted_only_in_part() -> None:
    huge = "x" * 3_000_000
    message = _errors("GetMLTransform", {"TransformId": huge})
    assert len(message) < 3000
    assert f"'{'x' * 1024}… (3,000,000 characters)'" in message
    assert "Member must have length less than or equal to 255" in message
