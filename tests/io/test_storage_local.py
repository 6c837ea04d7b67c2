"""Storage on local paths: allowed roots, traversal, symlinks, listing and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from findmatches.io import (
    AccessError,
    InvalidPathError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    PathNotAllowedError,
    Storage,
    StorageError,
)
from findmatches.io import storage as storage_module


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "data" / "sub").mkdir(parents=True)
    (r / "data" / "a.csv").write_text("x\n1\n")
    (r / "data" / "sub" / "b.csv").write_text("x\n2\n")
    (r / "data" / "_SUCCESS").write_text("")
    (r / "data" / ".hidden").write_text("h")
    (r / "data" / "_temporary").mkdir()
    (r / "data" / "_temporary" / "part").write_text("t")
    return r


@pytest.fixture
def storage(root: Path) -> Storage:
    return Storage(None, [root])


def test_exact_file_and_folder_listing(storage: Storage, root: Path) -> None:
    one = storage.list_objects(str(root / "data" / "a.csv"))
    assert [(o.name, o.size) for o in one] == [("a.csv", 4)]
    many = storage.list_objects((root / "data").as_uri())
    assert [o.name for o in many] == ["a.csv", "sub/b.csv"]
    assert storage.read_bytes(f"file://{root}/data/sub/b.csv") == b"x\n2\n"


def test_missing_and_empty(storage: Storage, root: Path) -> None:
    with pytest.raises(ObjectNotFoundError):
        storage.list_objects(str(root / "nope.csv"))
    (root / "empty").mkdir()
    with pytest.raises(ObjectNotFoundError):
        storage.read_bytes(str(root / "empty"))


def test_read_prefix_with_several_objects_is_refused(storage: Storage, root: Path) -> None:
    with pytest.raises(InvalidPathError, match="2 objects"):
        storage.read_bytes(str(root / "data"))


def test_max_bytes(storage: Storage, root: Path) -> None:
    assert storage.read_bytes(str(root / "data" / "a.csv"), max_bytes=4) == b"x\n1\n"
    with pytest.raises(ObjectTooLargeError) as e:
        storage.read_bytes(str(root / "data" / "a.csv"), max_bytes=3)
    assert (e.value.size, e.value.limit) == (4, 3)


def test_outside_roots_and_traversal(storage: Storage, root: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text("s")
    for uri in [
        str(tmp_path / "secret.csv"),
        f"{root}/../secret.csv",
        f"file://{root}/data/../../secret.csv",
    ]:
        with pytest.raises(PathNotAllowedError):
            storage.read_bytes(uri)
    with pytest.raises(PathNotAllowedError):
        storage.write_bytes(f"{root}/../escaped.csv", b"x")
    assert not (tmp_path / "escaped.csv").exists()
    # ".." that stays inside the root is fine
    assert storage.read_bytes(f"{root}/data/sub/../a.csv") == b"x\n1\n"


def test_relative_paths_resolve_against_cwd(
    storage: Storage, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root)
    assert storage.read_bytes("data/a.csv") == b"x\n1\n"
    monkeypatch.chdir(root.parent)
    with pytest.raises(PathNotAllowedError):
        storage.write_bytes("outside.csv", b"x")


def test_symlink_escape(storage: Storage, root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.csv").write_text("secret")
    os.symlink(outside / "x.csv", root / "link.csv")
    os.symlink(outside, root / "linkdir")
    with pytest.raises(PathNotAllowedError):
        storage.read_bytes(str(root / "link.csv"))
    with pytest.raises(PathNotAllowedError):
        storage.list_objects(str(root / "linkdir"))
    with pytest.raises(PathNotAllowedError):
        storage.write_bytes(str(root / "linkdir" / "new.csv"), b"x")
    assert not (outside / "new.csv").exists()
    # a symlinked file inside a listed folder is checked too
    os.symlink(outside / "x.csv", root / "data" / "z.csv")
    with pytest.raises(PathNotAllowedError):
        storage.list_objects(str(root / "data"))
    # symlinks that stay inside the roots are followed
    os.symlink(root / "data" / "a.csv", root / "inside.csv")
    assert storage.read_bytes(str(root / "inside.csv")) == b"x\n1\n"


def test_no_roots_means_no_local_paths(tmp_path: Path) -> None:
    with pytest.raises(PathNotAllowedError, match="no allowed roots"):
        Storage(None, []).list_objects(str(tmp_path))


def test_atomic_write_upload_download(storage: Storage, root: Path, tmp_path: Path) -> None:
    target = root / "out" / "deep" / "labels.csv"
    storage.write_bytes(str(target), b"one")
    storage.write_bytes(target.as_uri(), b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["labels.csv"]  # no temp files left
    src = tmp_path / "made.csv"
    src.write_bytes(b"made")
    storage.upload_file(src, str(root / "out" / "up.csv"))
    assert (root / "out" / "up.csv").read_bytes() == b"made"
    got = storage.download(str(root / "data"), tmp_path / "dl")
    assert [p.relative_to(tmp_path / "dl").as_posix() for p in got] == ["a.csv", "sub/b.csv"]
    with pytest.raises(InvalidPathError):
        storage.write_bytes(str(root / "data"), b"x")


def test_failed_write_leaves_old_content(storage: Storage, root: Path) -> None:
    target = root / "keep.csv"
    target.write_bytes(b"old")
    for move in (False, True):
        with pytest.raises(StorageError):
            storage.upload_file(root / "does-not-exist", str(target), move=move)
    assert target.read_bytes() == b"old"
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []


def test_upload_with_move_takes_the_file(storage: Storage, root: Path, tmp_path: Path) -> None:
    src = tmp_path / "matches.parquet"
    src.write_bytes(b"rows")
    target = root / "out" / "matches.parquet"
    target.parent.mkdir()
    target.write_bytes(b"old")
    storage.upload_file(src, str(target), move=True)
    assert target.read_bytes() == b"rows"
    assert not src.exists()
    assert [p.name for p in target.parent.iterdir()] == ["matches.parquet"]  # no temp files left


def test_access_error_keeps_the_reason(storage: Storage, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(storage_module, "open", denied, raising=False)
    with pytest.raises(AccessError, match="Permission denied") as e:
        storage.read_bytes(str(root / "data" / "a.csv"))
    assert e.value.reason == "Permission denied"


def test_check_readable(storage: Storage, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage.check_readable(str(root / "data" / "a.csv"))
    with pytest.raises(ObjectNotFoundError):
        storage.check_readable(str(root / "data" / "gone.csv"))

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(storage_module, "open", denied, raising=False)
    with pytest.raises(AccessError, match="Permission denied"):
        storage.check_readable(str(root / "data" / "a.csv"))
