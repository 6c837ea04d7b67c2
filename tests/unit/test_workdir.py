"""A run's work dir names every part, and no two fetches share a folder; the task layer's imports follow the
layering of docs/design.md."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest

import findmatches
from findmatches.tasks.workdir import WorkDir


def test_every_fetch_gets_a_new_empty_folder(tmp_path: Path) -> None:
    work = WorkDir(tmp_path / "run")
    folders: list[Path] = []
    lock = threading.Lock()

    def fetch(role: str) -> None:
        for _ in range(20):
            folder = work.fetch("input" if role == "input" else "table")
            (folder / "part-00000.csv").write_text(role)
            with lock:
                folders.append(folder)

    threads = [threading.Thread(target=fetch, args=(r,)) for r in ("input", "table", "input", "table")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(folders)) == len(folders) == 80
    assert all(f.parent == work.root / "fetch" for f in folders)
    assert sum(f.name.endswith("-input") for f in folders) == 40


def test_the_parts_are_apart(tmp_path: Path) -> None:
    work = WorkDir(tmp_path / "run")
    parts = {work.labels, work.spill, work.output("matches.csv").parent, work.fetch("table")}
    assert len(parts) == 4 and all(p.is_dir() and p.is_relative_to(work.root) for p in parts)
    assert work.output("matches.csv") != work.output("labeling_set.csv")
    for bad in ("../x.csv", "a/b.csv", "", ".hidden"):
        with pytest.raises(ValueError):
            work.output(bad)


def _imports(package: str) -> dict[str, set[str]]:
    """The findmatches modules each module of ``package`` imports."""
    root = Path(findmatches.__file__).parent / package
    found = {}
    for path in sorted(root.rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        found[str(path.relative_to(root.parent))] = {n for n in names if n.startswith("findmatches")}
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("tasks", ("findmatches.service",)),
        ("store", ("findmatches.service", "findmatches.tasks", "findmatches.engine")),
        ("engine", ("findmatches.service", "findmatches.tasks", "findmatches.store", "findmatches.io")),
    ],
)
def test_layers_import_only_downwards(package: str, forbidden: tuple[str, ...]) -> None:
    wrong = {
        module: sorted(n for n in names if n.startswith(forbidden))
        for module, names in _imports(package).items()
        if any(n.startswith(forbidden) for n in names)
    }
    assert not wrong, wrong
