"""The server's kept snapshots of matched records, so that incremental runs read them instead of the files.

An incremental FIND_MATCHES run keeps a snapshot (`findmatches.engine.snapshot`) of the records it wrote, and
the first one to read a set of existing files keeps one of those records too. Each snapshot is stored under
``<data dir>/snapshots/<transform>/<id>/`` with ``files.json``: the objects it stands for, each
with its version (S3's ETag, a local file's time and size). A later run whose existing matches are exactly
objects that kept snapshots cover, at the versions they were kept at, reads the snapshots and downloads
none of those objects; anything else (an object changed, added, or never kept) and the run reads every file,
as before, and keeps a snapshot of them for the next. A transform keeps its `MAX_KEPT` most recently used
snapshots; they go with the transform. The engine writes them into the run's work dir, so that a run that
fails or is killed leaves none half-written here.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from findmatches.engine.snapshot import META_FILE as META
from findmatches.io.storage import ObjectInfo

FILES = "files.json"
MAX_KEPT = 32


@dataclass(frozen=True)
class Kept:
    """One kept snapshot: its folder and the objects (uri → version) it stands for."""

    folder: Path
    files: dict[str, str]


class SnapshotStore:
    """Snapshots kept per transform under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _transform_dir(self, transform_id: str) -> Path:
        # Transform ids are unique across accounts, and a run reaches its own transform's only.
        return self.root / transform_id

    def keep(self, transform_id: str, folder: Path, objects: Sequence[ObjectInfo]) -> None:
        """Keep the snapshot the engine wrote into ``folder`` (in the run's work dir, on the same file system)
        as standing for ``objects``, by moving it in; drop the least recently used beyond `MAX_KEPT`."""
        if not (folder / META).is_file() or not objects or any(not o.version for o in objects):
            return
        (folder / FILES).write_text(json.dumps({o.uri: o.version for o in objects}), encoding="utf-8")
        parent = self._transform_dir(transform_id)
        parent.mkdir(parents=True, exist_ok=True)
        folder.rename(parent / uuid.uuid4().hex)
        kept = sorted(self._kept(parent), key=lambda k: k.folder.stat().st_mtime_ns, reverse=True)
        for old in kept[MAX_KEPT:]:
            shutil.rmtree(old.folder, ignore_errors=True)

    def cover(self, transform_id: str, objects: Sequence[ObjectInfo]) -> list[Path] | None:
        """Snapshots that together stand for exactly ``objects`` at their current versions, each object once
        (newest first wins); None unless every object is covered."""
        wanted = {o.uri: o.version for o in objects}
        if not wanted or any(not v for v in wanted.values()):
            return None
        kept = sorted(
            self._kept(self._transform_dir(transform_id)),
            key=lambda k: k.folder.stat().st_mtime_ns,
            reverse=True,
        )
        chosen: list[Path] = []
        covered: set[str] = set()
        for k in kept:
            if all(wanted.get(uri) == v for uri, v in k.files.items()) and not covered & k.files.keys():
                chosen.append(k.folder)
                covered |= k.files.keys()
        if covered != wanted.keys():
            return None
        for folder in chosen:  # used: the last to be dropped
            os.utime(folder)
        return chosen

    def drop(self, folders: Sequence[Path]) -> None:
        """Remove kept snapshots that did not fit a run (the engine refused them)."""
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    def drop_transform(self, transform_id: str) -> None:
        """Remove every snapshot of a deleted transform."""
        shutil.rmtree(self._transform_dir(transform_id), ignore_errors=True)

    @staticmethod
    def _kept(parent: Path) -> list[Kept]:
        found: list[Kept] = []
        if not parent.is_dir():
            return found
        for folder in parent.iterdir():
            if folder.name.startswith("."):
                continue
            try:
                files = json.loads((folder / FILES).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(files, dict) and files:
                found.append(Kept(folder, {str(k): str(v) for k, v in files.items()}))
        return found
