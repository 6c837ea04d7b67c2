"""ML transform management: create, read, list, update, delete, and tags on transform ARNs."""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from typing import Any

from findmatches.aws.errors import (
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidInputException,
    ResourceNumberLimitExceededException,
)
from findmatches.aws.protocol import timestamp_now
from findmatches.service.catalog import check_catalog, find_table
from findmatches.service.context import RequestContext
from findmatches.service.inline import inline
from findmatches.service.paging import page
from findmatches.store.database import Database
from findmatches.store.documents import transform_document, transform_with_state
from findmatches.tasks.capacity import DPU_PER_WORKER

MAX_TRANSFORMS_PER_ACCOUNT = 100
MAX_SCHEMA_COLUMNS = 100
MAX_TAGS = 50
DEFAULT_GLUE_VERSION = "0.9"
DEFAULT_MAX_CAPACITY = 10.0
DEFAULT_TIMEOUT_MINUTES = 2880
_ARN = re.compile(r"^arn:aws[a-z-]*:glue:([a-z0-9-]+):(\d{12}):mlTransform/(.+)$")
_SORT_COLUMNS = {
    "NAME": "name",
    "TRANSFORM_TYPE": "type",
    "STATUS": "status",
    "CREATED": "created",
    "LAST_MODIFIED": "last_modified",
}
_UPDATABLE = (
    "Name",
    "Description",
    "Parameters",
    "Role",
    "GlueVersion",
    "MaxCapacity",
    "WorkerType",
    "NumberOfWorkers",
    "Timeout",
    "MaxRetries",
)


def not_found(ctx: RequestContext, transform_id: str) -> EntityNotFoundException:
    """Glue's wording for a transform the caller cannot see."""
    return EntityNotFoundException(
        f"Cannot find MLTransform in account {ctx.account_id} with handle {transform_id}."
    )


def load_transform(conn: sqlite3.Connection, ctx: RequestContext, transform_id: str) -> dict[str, Any]:
    """The transform as GetMLTransform returns it; EntityNotFoundException if it is not the caller's."""
    doc = transform_document(conn, ctx.account_id, ctx.region, transform_id)
    if doc is None:
        raise not_found(ctx, transform_id)
    return doc


def schema_from_table(table: dict[str, Any], where: str) -> list[dict[str, str]]:
    """The transform's Schema: the catalog table's columns as SchemaColumn {Name, DataType}."""
    columns = (table.get("StorageDescriptor") or {}).get("Columns") or []
    if not columns:
        raise InvalidInputException("Schema is not defined on the transform.")
    if len(columns) > MAX_SCHEMA_COLUMNS:
        raise InvalidInputException(
            f"Problem fetching the data catalog schema: table {where} has {len(columns)} columns; "
            f"a transform supports at most {MAX_SCHEMA_COLUMNS}."
        )
    schema = []
    for column in columns:
        data_type = (column.get("Type") or "").strip()
        if not data_type:
            raise InvalidInputException(
                f"Input source column {column['Name']} has an invalid data type defined in the catalog."
            )
        schema.append({"Name": column["Name"], "DataType": data_type})
    return schema


def check_parameters(parameters: dict[str, Any] | None, schema: list[dict[str, str]]) -> None:
    """Glue's checks on TransformParameters against the schema."""
    fm = (parameters or {}).get("FindMatchesParameters")
    if fm is None:
        raise InvalidInputException("Find Matches parameters have not been set.")
    key = fm.get("PrimaryKeyColumnName")
    if not key:
        raise InvalidInputException("A primary key must be specified in Find Matches parameters.")
    if key not in {c["Name"] for c in schema}:
        raise InvalidInputException(f"Schema should contain given primary key: {key}.")


def resolve_capacity(config: dict[str, Any]) -> None:
    """Apply Glue's capacity rules to ``config`` in place (MaxCapacity vs WorkerType/NumberOfWorkers)."""
    worker_type, workers = config.get("WorkerType"), config.get("NumberOfWorkers")
    capacity = config.get("MaxCapacity")
    if capacity is not None and (worker_type is not None or workers is not None):
        raise InvalidInputException("Cannot set Max Capacity and Worker Num/Type at the same time.")
    if (worker_type is None) != (workers is None):
        raise InvalidInputException("Both WorkerType and NumberOfWorkers should be set.")
    if worker_type is not None and workers is not None:
        if workers < 1:
            raise InvalidInputException("NumberOfWorkers should be a positive integer.")
        config["MaxCapacity"] = DPU_PER_WORKER.get(worker_type, 1.0) * workers
    else:
        capacity = DEFAULT_MAX_CAPACITY if capacity is None else capacity
        if not 2.0 <= capacity <= 100.0:
            raise InvalidInputException("MaxCapacity should be between 2 and 100 DPUs.")
        config["MaxCapacity"] = float(capacity)
    if config.get("MaxRetries", 0) < 0:
        raise InvalidInputException("Max retries should be non-negative.")


class TransformOperations:
    """CreateMLTransform … GetTags."""

    db: Database

    def _name_taken(self, conn: sqlite3.Connection, ctx: RequestContext, name: str, but: str = "") -> bool:
        row = conn.execute(
            "SELECT 1 FROM transforms WHERE account=? AND region=? AND name=? AND transform_id<>?",
            (ctx.account_id, ctx.region, name, but),
        ).fetchone()
        return row is not None

    def _input_schema(self, ctx: RequestContext, tables: list[dict[str, Any]]) -> list[dict[str, str]]:
        if len(tables) != 1:
            raise InvalidInputException("Exactly one input record table must be provided.")
        source = tables[0]
        check_catalog(ctx, source.get("CatalogId"))
        if source.get("ConnectionName"):
            raise InvalidInputException("Input record tables over connections are not supported.")
        where = f"{source['DatabaseName']}.{source['TableName']}"
        table = find_table(self.db, ctx, source["DatabaseName"], source["TableName"])
        if table is None:
            raise InvalidInputException(
                f"Problem fetching the data catalog schema: Entity Not Found (table {where} does not exist)."
            )
        return schema_from_table(table, where)

    def create_ml_transform(
        self,
        ctx: RequestContext,
        name: str,
        input_record_tables: list[dict[str, Any]],
        parameters: dict[str, Any],
        role: str,
        tags: dict[str, str] | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        schema = self._input_schema(ctx, input_record_tables)
        check_parameters(parameters, schema)
        config = {
            k: options[k]
            for k in ("max_capacity", "worker_type", "number_of_workers", "max_retries")
            if options.get(k) is not None
        }
        config = {_pascal(k): v for k, v in config.items()}
        resolve_capacity(config)
        if tags and len(tags) > MAX_TAGS:
            raise InvalidInputException(f"A resource may carry at most {MAX_TAGS} tags.")
        now = timestamp_now()
        transform_id = "tfm-" + secrets.token_hex(20)
        doc: dict[str, Any] = {
            "TransformId": transform_id,
            "Name": name,
            "Description": options.get("description"),
            "CreatedOn": now,
            "InputRecordTables": input_record_tables,
            "Parameters": parameters,
            "Schema": schema,
            "Role": role,
            "GlueVersion": options.get("glue_version") or DEFAULT_GLUE_VERSION,
            "Timeout": options.get("timeout") or DEFAULT_TIMEOUT_MINUTES,
            "MaxRetries": config.get("MaxRetries", 0),
            "TransformEncryption": options.get("transform_encryption"),
            **{k: config[k] for k in ("MaxCapacity", "WorkerType", "NumberOfWorkers") if k in config},
        }
        doc = {k: v for k, v in doc.items() if v is not None}
        with self.db.write() as conn:
            if self._name_taken(conn, ctx, name):
                raise AlreadyExistsException(f"Transform with name {name} already exists.")
            count = conn.execute(
                "SELECT COUNT(*) FROM transforms WHERE account=? AND region=?", (ctx.account_id, ctx.region)
            ).fetchone()[0]
            if count >= MAX_TRANSFORMS_PER_ACCOUNT:
                raise ResourceNumberLimitExceededException(
                    f"ML Transforms count ({count + 1}) has exceeded the limit of {MAX_TRANSFORMS_PER_ACCOUNT} "
                    "transforms."
                )
            conn.execute(
                "INSERT INTO transforms (transform_id, account, region, name, status, created, last_modified, "
                "label_count, doc) VALUES (?, ?, ?, ?, 'NOT_READY', ?, ?, 0, ?)",
                (transform_id, ctx.account_id, ctx.region, name, now, now, json.dumps(doc)),
            )
            conn.executemany(
                "INSERT INTO transform_tags (transform_id, key, value) VALUES (?, ?, ?)",
                [(transform_id, k, v) for k, v in (tags or {}).items()],
            )
        return {"TransformId": transform_id}

    @inline
    def get_ml_transform(self, ctx: RequestContext, transform_id: str) -> dict[str, Any]:
        return load_transform(self.db.conn, ctx, transform_id)

    def _filtered(
        self,
        ctx: RequestContext,
        filter: dict[str, Any] | None,
        sort: dict[str, Any] | None,
        tags: dict[str, str] | None = None,
    ) -> list[sqlite3.Row]:
        where, args = ["account=?", "region=?"], [ctx.account_id, ctx.region]
        f = filter or {}
        for key, column in (("Name", "name"), ("Status", "status")):
            if key in f:
                where.append(f"{column}=?")
                args.append(f[key])
        for key, column, op in (
            ("CreatedBefore", "created", "<"),
            ("CreatedAfter", "created", ">"),
            ("LastModifiedBefore", "last_modified", "<"),
            ("LastModifiedAfter", "last_modified", ">"),
        ):
            if key in f:
                where.append(f"{column}{op}?")
                args.append(f[key])
        for key, value in (tags or {}).items():
            where.append(
                "EXISTS (SELECT 1 FROM transform_tags t WHERE t.transform_id=transforms.transform_id "
                "AND t.key=? AND t.value=?)"
            )
            args.extend([key, value])
        order = "created ASC, transform_id ASC"
        if sort:
            column = _SORT_COLUMNS[sort["Column"]]
            direction = "DESC" if sort["SortDirection"] == "DESCENDING" else "ASC"
            column = "'FIND_MATCHES'" if column == "type" else column
            order = f"{column} {direction}, created {direction}, transform_id {direction}"
        rows = self.db.conn.execute(
            "SELECT transform_id, doc, status, label_count, last_modified FROM transforms "
            f"WHERE {' AND '.join(where)} ORDER BY {order}",
            args,
        ).fetchall()
        if not _DOC_FILTERS & f.keys():  # nothing to look for inside the documents
            return list(rows)
        return [r for r in rows if _matches_doc_filter(json.loads(r["doc"]), f)]

    @inline
    def get_ml_transforms(
        self,
        ctx: RequestContext,
        next_token: str | None = None,
        max_results: int | None = None,
        filter: dict[str, Any] | None = None,
        sort: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        rows = self._filtered(ctx, filter, sort)
        chunk, token = page(rows, next_token, max_results, 100, "transforms")
        return {"Transforms": [transform_with_state(r) for r in chunk], "NextToken": token}

    @inline
    def list_ml_transforms(
        self,
        ctx: RequestContext,
        next_token: str | None = None,
        max_results: int | None = None,
        filter: dict[str, Any] | None = None,
        sort: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        rows = self._filtered(ctx, filter, sort, tags)
        chunk, token = page(rows, next_token, max_results, 100, "transform-ids")
        return {"TransformIds": [r["transform_id"] for r in chunk], "NextToken": token}

    def update_ml_transform(self, ctx: RequestContext, transform_id: str, **changes: Any) -> dict[str, Any]:
        with self.db.write() as conn:
            current = load_transform(conn, ctx, transform_id)
            updates = {_pascal(k): v for k, v in changes.items() if v is not None}
            updates = {k: v for k, v in updates.items() if k in _UPDATABLE}
            if "Name" in updates and self._name_taken(conn, ctx, updates["Name"], but=transform_id):
                raise InvalidInputException(f"Another transform with name {updates['Name']} already exists.")
            if "Parameters" in updates:
                check_parameters(updates["Parameters"], current["Schema"])
            config = {k: current.get(k) for k in ("WorkerType", "NumberOfWorkers", "MaxRetries")}
            if {"WorkerType", "NumberOfWorkers", "MaxCapacity"} & updates.keys():
                config = {"MaxRetries": current.get("MaxRetries", 0)}
                config.update(
                    {k: updates[k] for k in ("MaxCapacity", "WorkerType", "NumberOfWorkers") if k in updates}
                )
            elif current.get("WorkerType") is None:
                config["MaxCapacity"] = current.get("MaxCapacity")
            if "MaxRetries" in updates:
                config["MaxRetries"] = updates["MaxRetries"]
            config = {k: v for k, v in config.items() if v is not None}
            resolve_capacity(config)
            for key in ("MaxCapacity", "WorkerType", "NumberOfWorkers"):
                current.pop(key, None)
            current.update(updates)
            current.update(config)
            now = timestamp_now()
            stored = {k: v for k, v in current.items() if k not in ("Status", "LabelCount", "LastModifiedOn")}
            conn.execute(
                "UPDATE transforms SET name=?, last_modified=?, doc=? WHERE transform_id=?",
                (current["Name"], now, json.dumps(stored), transform_id),
            )
        return {"TransformId": transform_id}

    def delete_ml_transform(self, ctx: RequestContext, transform_id: str) -> dict[str, Any]:
        with self.db.write() as conn:
            load_transform(conn, ctx, transform_id)
            conn.execute("UPDATE transforms SET status='DELETING' WHERE transform_id=?", (transform_id,))
        self.before_transform_deleted(transform_id)
        with self.db.write() as conn:
            conn.execute("DELETE FROM transforms WHERE transform_id=?", (transform_id,))
        return {"TransformId": transform_id}

    def before_transform_deleted(self, transform_id: str) -> None:
        """Hook: stop the transform's task runs before its rows go."""

    # -- tags ------------------------------------------------------------------------------------

    def _tagged_transform(self, ctx: RequestContext, arn: str) -> str:
        match = _ARN.match(arn)
        if match is None:
            raise InvalidInputException(
                f"Resource ARN {arn} is not an ML transform ARN "
                "(arn:aws:glue:<region>:<account>:mlTransform/<id>)."
            )
        region, account, transform_id = match.groups()
        if account != ctx.account_id or region != ctx.region:
            raise EntityNotFoundException(f"Resource {arn} not found.")
        load_transform(self.db.conn, ctx, transform_id)
        return transform_id

    def tag_resource(
        self, ctx: RequestContext, resource_arn: str, tags_to_add: dict[str, str]
    ) -> dict[str, Any]:
        with self.db.write() as conn:
            transform_id = self._tagged_transform(ctx, resource_arn)
            conn.executemany(
                "INSERT OR REPLACE INTO transform_tags (transform_id, key, value) VALUES (?, ?, ?)",
                [(transform_id, k, v) for k, v in tags_to_add.items()],
            )
            count = conn.execute(
                "SELECT COUNT(*) FROM transform_tags WHERE transform_id=?", (transform_id,)
            ).fetchone()[0]
            if count > MAX_TAGS:
                raise InvalidInputException(
                    f"A resource may carry at most {MAX_TAGS} tags; this would make {count}."
                )
        return {}

    def untag_resource(
        self, ctx: RequestContext, resource_arn: str, tags_to_remove: list[str]
    ) -> dict[str, Any]:
        with self.db.write() as conn:
            transform_id = self._tagged_transform(ctx, resource_arn)
            conn.executemany(
                "DELETE FROM transform_tags WHERE transform_id=? AND key=?",
                [(transform_id, k) for k in tags_to_remove],
            )
        return {}

    @inline
    def get_tags(self, ctx: RequestContext, resource_arn: str) -> dict[str, Any]:
        transform_id = self._tagged_transform(ctx, resource_arn)
        rows = self.db.conn.execute(
            "SELECT key, value FROM transform_tags WHERE transform_id=? ORDER BY key", (transform_id,)
        ).fetchall()
        return {"Tags": {r["key"]: r["value"] for r in rows}}


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


#: Filter members answered from the stored document rather than a column.
_DOC_FILTERS = {"TransformType", "GlueVersion", "Schema"}


def _matches_doc_filter(doc: dict[str, Any], f: dict[str, Any]) -> bool:
    if "TransformType" in f and doc["Parameters"]["TransformType"] != f["TransformType"]:
        return False
    if "GlueVersion" in f and doc.get("GlueVersion") != f["GlueVersion"]:
        return False
    if "Schema" in f:
        have = {c["Name"]: c.get("DataType") for c in doc.get("Schema", [])}
        for column in f["Schema"]:
            name, data_type = column.get("Name"), column.get("DataType")
            if name not in have or (data_type is not None and have[name] != data_type):
                return False
    return True
