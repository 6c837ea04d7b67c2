"""State survives restarts, signals stop the server cleanly, and concurrent writers stay consistent."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.api.support import all_transform_ids, make_table, make_transform, region_client, unique
from tests.conftest import ServerProcess, client


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test's own, with the default key and a temporary data dir."""
    srv = ServerProcess(tmp_path / "data")
    srv.start()
    yield srv
    if srv.proc is not None and srv.proc.poll() is None:
        srv.stop()


def test_restart_signals_and_log(own_server: ServerProcess) -> None:
    glue = client(own_server.url)
    database, table = make_table(glue)
    transform_id = make_transform(glue, database, table, Name="durable", Tags={"k": "v"})
    glue.update_ml_transform(TransformId=transform_id, Description="updated")
    before = glue.get_ml_transform(TransformId=transform_id)
    table_before = glue.get_table(DatabaseName=database, Name=table)["Table"]
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_ml_transform(TransformId="tfm-absent")

    assert own_server.stop(signal.SIGINT) == 0
    log = own_server.log()
    assert "Traceback" not in log
    access = [line for line in log.splitlines() if "findmatches.access" in line]
    assert len(access) == 7  # one line per request
    assert any("CreateMLTransform account=000000000000 status=200" in line for line in access)
    failed = access[-1]
    assert "GetMLTransform account=000000000000 status=400" in failed
    assert "error=EntityNotFoundException" in failed

    own_server.start()
    glue = client(own_server.url)
    after = glue.get_ml_transform(TransformId=transform_id)
    for got in (before, after):
        got.pop("ResponseMetadata")
    assert after == before
    assert glue.get_table(DatabaseName=database, Name=table)["Table"] == table_before
    arn = f"arn:aws:glue:us-east-1:000000000000:mlTransform/{transform_id}"
    assert glue.get_tags(ResourceArn=arn)["Tags"] == {"k": "v"}
    assert glue.list_ml_transforms()["TransformIds"] == [transform_id]
    make_transform(glue, database, table, Name="second")  # the store keeps working after the restart
    assert len(glue.list_ml_transforms()["TransformIds"]) == 2
    assert own_server.stop(signal.SIGTERM) == 0
    assert "Traceback" not in own_server.log()


def test_concurrent_writers(server: ServerProcess) -> None:
    """On the shared server, in a region of its own."""
    glue = region_client(server.url)
    region = glue.meta.region_name
    database, table = make_table(glue)

    def work(worker: int) -> list[str]:
        mine = client(server.url, region=region)
        ids = []
        for i in range(8):
            mine.create_table(DatabaseName=database, TableInput={"Name": f"w{worker}_t{i}"})
            ids.append(make_transform(mine, database, table, Name=f"w{worker}-{i}"))
            mine.get_ml_transforms(MaxResults=5)
        return ids

    with ThreadPoolExecutor(max_workers=6) as pool:
        created = [tid for ids in pool.map(work, range(6)) for tid in ids]
    assert len(set(created)) == 48
    assert sorted(all_transform_ids(glue)) == sorted(created)
    tables = glue.get_paginator("get_tables").paginate(DatabaseName=database)
    assert sum(len(p["TableList"]) for p in tables) == 1 + 48

    # racing for one name: exactly one wins
    name = unique("race")

    def race(_: int) -> Any:
        try:
            return make_transform(client(server.url, region=region), database, table, Name=name)
        except Exception as e:  # the losers
            return e

    outcomes = list(ThreadPoolExecutor(max_workers=6).map(race, range(6)))
    winners = [o for o in outcomes if isinstance(o, str)]
    assert len(winners) == 1
    assert all("AlreadyExistsException" in str(o) for o in outcomes if not isinstance(o, str))

    log = server.log()
    assert "database is locked" not in log
    assert "status=500" not in log
    with sqlite3.connect(f"file:{server.data_dir / 'findmatches.sqlite3'}?mode=ro", uri=True) as conn:
        count = conn.execute("SELECT COUNT(*) FROM transforms WHERE region=?", (region,)).fetchone()[0]
        assert count == 49
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
