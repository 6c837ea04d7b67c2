"""The Data Catalog subset a transform reads: databases and tables."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import regex

from findmatches.aws.errors import (
    AccessDeniedException,
    AlreadyExistsException,
    EntityNotFoundException,
    InvalidInputException,
)
from findmatches.aws.protocol import timestamp_now
from findmatches.service.context import RequestContext
from findmatches.service.inline import inline
from findmatches.service.paging import page
from findmatches.store.database import Database
from findmatches.store.documents import table_document

_DATABASE_FIELDS = (
    "Name",
    "Description",
    "LocationUri",
    "Parameters",
    "CreateTableDefaultPermissions",
    "TargetDatabase",
    "FederatedDatabase",
)
_TABLE_FIELDS = (
    "Name",
    "Description",
    "Owner",
    "LastAccessTime",
    "LastAnalyzedTime",
    "Retention",
    "StorageDescriptor",
    "PartitionKeys",
    "ViewOriginalText",
    "ViewExpandedText",
    "TableType",
    "Parameters",
    "TargetTable",
    "ViewDefinition",
)


def check_catalog(ctx: RequestContext, catalog_id: str | None) -> None:
    """Only the caller's own catalog is reachable; accounts are walls."""
    if catalog_id is not None and catalog_id != ctx.account_id:
        raise AccessDeniedException(
            f"Account {ctx.account_id} is not authorized to access catalog {catalog_id}."
        )


def find_table(db: Database, ctx: RequestContext, database: str, name: str) -> dict[str, Any] | None:
    """The stored Table document, or None."""
    return table_document(db.conn, ctx.account_id, ctx.region, database, name)


class CatalogOperations:
    """CreateDatabase … UpdateTable."""

    db: Database

    # -- databases -------------------------------------------------------------------------------

    def _database_exists(self, conn: sqlite3.Connection, ctx: RequestContext, name: str) -> bool:
        row = conn.execute(
            "SELECT 1 FROM databases WHERE account=? AND region=? AND name=?",
            (ctx.account_id, ctx.region, name),
        ).fetchone()
        return row is not None

    def create_database(
        self,
        ctx: RequestContext,
        database_input: dict[str, Any],
        catalog_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        name = database_input["Name"].lower()
        now = timestamp_now()
        doc = {k: database_input[k] for k in _DATABASE_FIELDS if k in database_input}
        doc.update(Name=name, CreateTime=now, CatalogId=ctx.account_id)
        with self.db.write() as conn:
            if self._database_exists(conn, ctx, name):
                raise AlreadyExistsException(f"Database {name} already exists.")
            conn.execute(
                "INSERT INTO databases (account, region, name, created, doc) VALUES (?, ?, ?, ?, ?)",
                (ctx.account_id, ctx.region, name, now, json.dumps(doc)),
            )
        return {}

    @inline
    def get_database(self, ctx: RequestContext, name: str, catalog_id: str | None = None) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        row = self.db.conn.execute(
            "SELECT doc FROM databases WHERE account=? AND region=? AND name=?",
            (ctx.account_id, ctx.region, name.lower()),
        ).fetchone()
        if row is None:
            raise EntityNotFoundException(f"Database {name} not found.")
        return {"Database": json.loads(row["doc"])}

    @inline
    def get_databases(
        self,
        ctx: RequestContext,
        catalog_id: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        rows = self.db.conn.execute(
            "SELECT doc FROM databases WHERE account=? AND region=? ORDER BY name",
            (ctx.account_id, ctx.region),
        ).fetchall()
        chunk, token = page(rows, next_token, max_results, 100, "databases")
        return {"DatabaseList": [json.loads(r["doc"]) for r in chunk], "NextToken": token}

    def delete_database(
        self, ctx: RequestContext, name: str, catalog_id: str | None = None
    ) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        name = name.lower()
        with self.db.write() as conn:
            if not self._database_exists(conn, ctx, name):
                raise EntityNotFoundException(f"Database {name} not found.")
            conn.execute(
                "DELETE FROM tables WHERE account=? AND region=? AND database_name=?",
                (ctx.account_id, ctx.region, name),
            )
            conn.execute(
                "DELETE FROM databases WHERE account=? AND region=? AND name=?",
                (ctx.account_id, ctx.region, name),
            )
        return {}

    # -- tables ----------------------------------------------------------------------------------

    def _table_doc(
        self, ctx: RequestContext, database: str, table_input: dict[str, Any], created: float, version: int
    ) -> dict[str, Any]:
        doc = {k: table_input[k] for k in _TABLE_FIELDS if k in table_input}
        doc.update(
            Name=table_input["Name"].lower(),
            DatabaseName=database,
            CreateTime=created,
            UpdateTime=timestamp_now(),
            CatalogId=ctx.account_id,
            IsRegisteredWithLakeFormation=False,
            VersionId=str(version),
        )
        return doc

    def create_table(
        self,
        ctx: RequestContext,
        database_name: str,
        table_input: dict[str, Any] | None = None,
        name: str | None = None,
        catalog_id: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        table_input = dict(table_input or {})
        table_input.setdefault("Name", name)
        if not table_input.get("Name"):
            raise InvalidInputException("A table name is required: set TableInput.Name.")
        database = database_name.lower()
        now = timestamp_now()
        doc = self._table_doc(ctx, database, table_input, now, 0)
        with self.db.write() as conn:
            if not self._database_exists(conn, ctx, database):
                raise EntityNotFoundException(f"Database {database} not found.")
            if find_table(self.db, ctx, database, doc["Name"]) is not None:
                raise AlreadyExistsException(f"Table {doc['Name']} already exists.")
            conn.execute(
                "INSERT INTO tables (account, region, database_name, name, created, doc) VALUES (?, ?, ?, ?, ?, ?)",
                (ctx.account_id, ctx.region, database, doc["Name"], now, json.dumps(doc)),
            )
        return {}

    @inline
    def get_table(
        self, ctx: RequestContext, database_name: str, name: str, catalog_id: str | None = None, **_: Any
    ) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        doc = find_table(self.db, ctx, database_name, name)
        if doc is None:
            self._require_database(ctx, database_name)
            raise EntityNotFoundException(f"Table {name.lower()} not found.")
        return {"Table": doc}

    def _require_database(self, ctx: RequestContext, database_name: str) -> None:
        if not self._database_exists(self.db.conn, ctx, database_name.lower()):
            raise EntityNotFoundException(f"Database {database_name.lower()} not found.")

    def get_tables(
        self,
        ctx: RequestContext,
        database_name: str,
        expression: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
        catalog_id: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        database = database_name.lower()
        self._require_database(ctx, database)
        rows = self.db.conn.execute(
            "SELECT name, doc FROM tables WHERE account=? AND region=? AND database_name=? ORDER BY name",
            (ctx.account_id, ctx.region, database),
        ).fetchall()
        if expression:
            matches = _name_filter(expression)
            rows = [r for r in rows if matches(r["name"])]
        chunk, token = page(rows, next_token, max_results, 100, f"tables:{database}:{expression or ''}")
        return {"TableList": [json.loads(r["doc"]) for r in chunk], "NextToken": token}

    def update_table(
        self,
        ctx: RequestContext,
        database_name: str,
        table_input: dict[str, Any] | None = None,
        catalog_id: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        if not table_input or not table_input.get("Name"):
            raise InvalidInputException("TableInput with a Name is required.")
        database = database_name.lower()
        with self.db.write() as conn:
            self._require_database(ctx, database)
            old = find_table(self.db, ctx, database, table_input["Name"])
            if old is None:
                raise EntityNotFoundException(f"Table {table_input['Name'].lower()} not found.")
            doc = self._table_doc(
                ctx, database, table_input, old["CreateTime"], int(old.get("VersionId", 0)) + 1
            )
            conn.execute(
                "UPDATE tables SET doc=? WHERE account=? AND region=? AND database_name=? AND name=?",
                (json.dumps(doc), ctx.account_id, ctx.region, database, doc["Name"]),
            )
        return {}

    def delete_table(
        self, ctx: RequestContext, database_name: str, name: str, catalog_id: str | None = None, **_: Any
    ) -> dict[str, Any]:
        check_catalog(ctx, catalog_id)
        database = database_name.lower()
        with self.db.write() as conn:
            self._require_database(ctx, database)
            deleted = conn.execute(
                "DELETE FROM tables WHERE account=? AND region=? AND database_name=? AND name=?",
                (ctx.account_id, ctx.region, database, name.lower()),
            ).rowcount
            if not deleted:
                raise EntityNotFoundException(f"Table {name.lower()} not found.")
        return {}


#: Longest a table-name expression may take over one listing; a pathological regex fails instead of hanging.
EXPRESSION_TIMEOUT_S = 0.5


def _name_filter(expression: str) -> Callable[[str], bool]:
    """Glue's table-name expression: a case-insensitive regex over the whole name, where a bare ``*`` also
    means "anything". It runs under ``regex``'s timeout so that no expression can tie up a worker."""
    text = regex.sub(r"(?<![.\\\]])\*", ".*", expression)
    try:
        pattern = regex.compile(text, regex.IGNORECASE | regex.ASCII)
    except regex.error as e:
        raise InvalidInputException(
            f"Expression '{expression}' is not a valid regular expression: {e}"
        ) from e
    deadline = time.monotonic() + EXPRESSION_TIMEOUT_S

    def matches(name: str) -> bool:
        try:
            return pattern.fullmatch(name, timeout=max(deadline - time.monotonic(), 0.001)) is not None
        except TimeoutError as e:
            raise InvalidInputException(f"Expression '{expression}' is too expensive to evaluate.") from e

    return matches
