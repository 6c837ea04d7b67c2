"""Console fixtures: signed-in browsers in a region of their own, and a catalog table of sample people."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import SAMPLE_COLUMNS, ServerProcess, catalog_people, client
from tests.console.support import Browser


@pytest.fixture
def region() -> str:
    """A region no other test uses: the console's lists hold only this test's things."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def browser(server: ServerProcess, region: str) -> Browser:
    """Signed in with the default test key (account 000000000000)."""
    b = Browser(server.url)
    assert b.sign_in(region=region).status == 303
    return b


@pytest.fixture
def region_glue(server: ServerProcess, region: str) -> Any:
    """A boto3 Glue client of the same account and region as ``browser``."""
    return client(server.url, region=region)


@dataclass
class PeopleTable:
    database: str
    table: str
    rows: list[dict[str, str]]

    def truth(self) -> dict[str, str]:
        return {r["id"]: r["entity"] for r in self.rows}


def people_table(
    glue: Any, s3: Any, rows: list[dict[str, str]] | None = None, columns: list[str] = SAMPLE_COLUMNS
) -> PeopleTable:
    """The sample people (or ``rows``) in a new bucket, catalogued as ``<database>.people``."""
    from findmatches import sample

    rows = rows if rows is not None else sample.generate()
    name = "c" + uuid.uuid4().hex[:12]
    catalog_people(glue, s3, name, f"db_{name}", rows, columns)
    return PeopleTable(f"db_{name}", "people", rows)


def create_transform(browser: Browser, table: PeopleTable, name: str = "people-dedup") -> str:
    """Create a transform through the console's form; return its id."""
    page = browser.post(
        "/console/transforms",
        {
            "csrf_token": browser.csrf(),
            "database": table.database,
            "table": table.table,
            "name": name,
            "role": "arn:aws:iam::000000000000:role/findmatches",
            "primary_key": "id",
            "precision_recall": "0.5",
            "accuracy_cost": "0.5",
        },
    )
    assert page.status == 303, page.text
    return page.headers["location"].rsplit("/", 1)[1]


def another_accounts_transform(server: ServerProcess, region: str) -> str:
    """A transform of another account (key AKIDOTHER) on a table of its own: the console's key must not see it."""
    theirs = client(server.url, access_key="AKIDOTHER", secret_key="other-secret", region=region)
    theirs.create_database(DatabaseInput={"Name": "private"})
    theirs.create_table(
        DatabaseName="private",
        TableInput={
            "Name": "people",
            "StorageDescriptor": {"Location": "s3://nowhere/", "Columns": [{"Name": "id", "Type": "string"}]},
        },
    )
    transform_id = theirs.create_ml_transform(
        Name="theirs",
        Role="r",
        InputRecordTables=[{"DatabaseName": "private", "TableName": "people"}],
        Parameters={"TransformType": "FIND_MATCHES", "FindMatchesParameters": {"PrimaryKeyColumnName": "id"}},
    )["TransformId"]
    return str(transform_id)
