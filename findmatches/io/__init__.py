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
    ParsedLabels,
    check_known_keys,
    empty_labels,
    parse_label_file,
    parse_label_files,
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
    "check_known_keys",
    "csv_options",
    "detect_format",
    "empty_labels",
    "fetch_table",
    "parse_label_file",
    "parse_label_files",
    "parse_uri",
    "read_columns",
    "read_records",
    "write_label_file",
]
