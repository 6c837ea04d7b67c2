"""A task run's scratch folder, with one named place for each thing a run writes there.

Every path a run writes locally comes from here, so that no two steps can pick the same one: each fetch of
records gets a folder of its own (two locations whose objects share a name, as Spark's and Glue's
``part-00000…`` names often do, cannot overwrite each other), and outputs, labels and the engine's spill
each have theirs. The runner gives every run (and every attempt of one) a fresh work dir and removes it
when the attempt ends.
"""

from __future__ import annotations

import itertools
import re
import threading
from pathlib import Path
from typing import Literal

FetchRole = Literal["input", "table", "existing"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class WorkDir:
    """The parts of one run's scratch folder: ``fetch/`` (downloads, a new folder per fetch), ``labels/``,
    ``out/`` (files made before they are uploaded) and ``spill/`` (the engine's temporary files)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def fetch(self, role: FetchRole) -> Path:
        """A new, empty folder for one fetch of records (the run's input, or the transform's table)."""
        with self._lock:
            number = next(self._numbers)
        folder = self.root / "fetch" / f"{number:03d}-{role}"
        folder.mkdir(parents=True, exist_ok=False)  # never a folder another fetch wrote into
        return folder

    @property
    def labels(self) -> Path:
        """Where a run keeps label data it derives (the labelled records an input lacks)."""
        return self._part("labels")

    def output(self, name: str) -> Path:
        """The local file ``name`` (a plain file name) that a run makes before uploading it."""
        if not _NAME.match(name):
            raise ValueError(f"not a plain file name: {name!r}")
        return self._part("out") / name

    @property
    def spill(self) -> Path:
        """The engine's temporary files (DuckDB's spill when memory runs short)."""
        return self._part("spill")

    def _part(self, name: str) -> Path:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder
