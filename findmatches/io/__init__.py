"""Files and objects: s3:// (boto3), file:// and local paths under allowed roots; tables; label files."""

from findmatches.io.errors import (
    AccessError,
    InvalidPathError,
    LabelFileError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    PathNotAllowedError,
    StorageError,
    TableFormatError,
)
from findmatches.io.labels import (
    LABEL_SCHEMA,
    PAIR_SCHEMA,
    ParsedLabels,
    empty_labels,
    has_match_and_nonmatch,
    label_pairs,
    merge_labels,
    parse_label_file,
    write_label_file,
)
from findmatches.io.storage import ObjectInfo, Storage
from findmatches.io.tables import (
    CsvOptions,
    TableFormat,
    csv_options,
    detect_format,
    fetch_table,
    read_columns,
    read_records,
)
from findmatches.io.uris import LocalUri, S3Uri, parse_uri

__all__ = [
    "LABEL_SCHEMA",
    "PAIR_SCHEMA",
    "AccessError",
    "CsvOptions",
    "InvalidPathError",
    "LabelFileError",
    "LocalUri",
    "ObjectInfo",
    "ObjectNotFoundError",
    "ObjectTooLargeError",
    "ParsedLabels",
    "PathNotAllowedError",
    "S3Uri",
    "Storage",
    "StorageError",
    "TableFormat",
    "TableFormatError",
    "csv_options",
    "detect_format",
    "empty_labels",
    "fetch_table",
    "has_match_and_nonmatch",
    "label_pairs",
    "merge_labels",
    "parse_label_file",
    "parse_uri",
    "read_columns",
    "read_records",
    "write_label_file",
]
