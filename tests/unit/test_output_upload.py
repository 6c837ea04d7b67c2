"""A FIND_MATCHES run's output uploaded as Glue lays it out: one file, or the Spark writer's part files."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from findmatches.io.storage import Storage
from findmatches.tasks.jobs import Jobs


def _jobs(root: Path) -> Jobs:
    jobs: Any = Jobs.__new__(Jobs)  # only the storage is used
    jobs.storage = Storage(None, [root])
    return jobs


def _spark_folder(path: Path, parts: list[str]) -> None:
    path.mkdir(parents=True)
    for i, text in enumerate(parts):
        (path / f"part-{i:05d}-0b2c-c000.csv").write_text(text)
        (path / f".part-{i:05d}-0b2c-c000.csv.crc").write_text("x")
    (path / "_SUCCESS").write_text("")


@pytest.mark.parametrize("parquet", [False, True])
def test_part_files_are_uploaded_in_order_under_the_output(tmp_path: Path, parquet: bool) -> None:
    local = tmp_path / "work" / "matches"
    _spark_folder(local, ["id\n1\n", "id\n2\n", "id\n3\n"])
    out = str(tmp_path / ("out/matches.parquet" if parquet else "out/"))
    run: Any = SimpleNamespace(task_run_id="tr-1")
    written = _jobs(tmp_path)._upload_output(run, out, local, parquet)
    folder = tmp_path / "out" / ("matches.parquet" if parquet else "")
    ext = "parquet" if parquet else "csv"
    names = [f"part-{i:05d}-tr-1.{ext}" for i in range(3)]
    assert written == [str(folder / n) for n in names]
    assert sorted(p.name for p in folder.iterdir()) == names  # no marker or checksum files
    assert [(folder / n).read_text() for n in names] == ["id\n1\n", "id\n2\n", "id\n3\n"]


def test_one_file_is_uploaded_as_before(tmp_path: Path) -> None:
    local = tmp_path / "work" / "matches.parquet"
    local.parent.mkdir()
    local.write_bytes(b"PAR1")
    run: Any = SimpleNamespace(task_run_id="tr-2")
    jobs = _jobs(tmp_path)
    assert jobs._upload_output(run, str(tmp_path / "out.parquet"), local, True) == [
        str(tmp_path / "out.parquet")
    ]
    assert (tmp_path / "out.parquet").read_bytes() == b"PAR1"
    local.write_text("id\n1\n")
    got = jobs._upload_output(run, str(tmp_path / "csv") + "/", local, False)
    assert got == [str(tmp_path / "csv" / "part-00000-tr-2.csv")]
