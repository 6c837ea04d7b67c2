"""The server's kept snapshots: found for exactly the objects they stand for, at the same versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from findmatches.engine.snapshot import META_FILE
from findmatches.io.storage import ObjectInfo
from findmatches.tasks import snapshots as store_module
from findmatches.tasks.snapshots import SnapshotStore


def _written(tmp: Path, name: str) -> Path:
    """A folder as the engine leaves it after writing a snapshot."""
    folder = tmp / "work" / name
    folder.mkdir(parents=True)
    (folder / META_FILE).write_text(json.dumps({"version": 1}))
    return folder


def _obj(uri: str, version: str = "v1") -> ObjectInfo:
    return ObjectInfo(uri, 10, uri.rsplit("/", 1)[-1], version)


def test_a_cover_is_every_object_once_at_its_version(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    a, b = _obj("s3://b/m/day1.csv"), _obj("s3://b/m/day2.csv")
    store.keep("tfm-1", _written(tmp_path, "one"), [a])
    store.keep("tfm-1", _written(tmp_path, "two"), [b])
    got = store.cover("tfm-1", [a, b])
    assert got is not None and len(got) == 2
    assert store.cover("tfm-1", [a]) is not None and len(store.cover("tfm-1", [a]) or []) == 1
    # Another transform's, a changed object, an object never kept, an object without a version: none.
    assert store.cover("tfm-2", [a]) is None
    assert store.cover("tfm-1", [_obj(a.uri, "v2"), b]) is None
    assert store.cover("tfm-1", [a, b, _obj("s3://b/m/day3.csv")]) is None
    assert store.cover("tfm-1", [_obj(a.uri, "")]) is None
    store.drop_transform("tfm-1")
    assert store.cover("tfm-1", [a]) is None


def test_a_snapshot_of_several_objects_is_used_whole_or_not_at_all(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    a, b = _obj("/data/m/a.parquet"), _obj("/data/m/b.parquet")
    store.keep("tfm-1", _written(tmp_path, "both"), [a, b])
    assert store.cover("tfm-1", [a]) is None  # it would bring b's records too
    assert store.cover("tfm-1", [a, b]) is not None


def test_unwritten_snapshots_are_not_kept_and_the_least_recently_used_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    empty = tmp_path / "work" / "empty"
    empty.mkdir(parents=True)
    store.keep("tfm-1", empty, [_obj("s3://b/x.csv")])  # the engine wrote nothing: no snapshot
    assert store.cover("tfm-1", [_obj("s3://b/x.csv")]) is None
    monkeypatch.setattr(store_module, "MAX_KEPT", 2)
    objs = [_obj(f"s3://b/{i}.csv") for i in range(3)]
    store.keep("tfm-1", _written(tmp_path, "s0"), [objs[0]])
    store.keep("tfm-1", _written(tmp_path, "s1"), [objs[1]])
    assert store.cover("tfm-1", [objs[0]]) is not None  # used: now the most recent
    store.keep("tfm-1", _written(tmp_path, "s2"), [objs[2]])
    assert store.cover("tfm-1", [objs[1]]) is None  # the least recently used went
    assert store.cover("tfm-1", [objs[0]]) is not None
    assert store.cover("tfm-1", [objs[2]]) is not None
