"""The docs keep up with the code: every CLI flag and every implemented operation is documented."""

from __future__ import annotations

import re
from pathlib import Path

from botocore import xform_name

from findmatches.aws.spec import glue_model
from findmatches.cli import _parser
from findmatches.service.provider import GlueProvider

ROOT = Path(__file__).resolve().parents[2]


def _flags(command: str) -> set[str]:
    sub = next(a for a in _parser()._subparsers._group_actions if a.dest == "command")  # type: ignore[union-attr]
    parser = sub.choices[command]  # type: ignore[attr-defined]
    return {opt for action in parser._actions for opt in action.option_strings if opt.startswith("--")} - {
        "--help"
    }


def test_every_serve_flag_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [flag for flag in _flags("serve") if flag not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_every_apply_flag_is_documented() -> None:
    docs = (ROOT / "README.md").read_text() + (ROOT / "docs" / "api.md").read_text()
    missing = [flag for flag in _flags("apply") if flag not in docs]
    assert not missing, f"README.md / docs/api.md do not document: {missing}"


def test_every_explain_flag_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [flag for flag in _flags("explain") if flag not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_every_implemented_operation_is_listed_in_docs_api() -> None:
    docs = (ROOT / "docs" / "api.md").read_text()
    implemented = [op for op in glue_model().operation_names if hasattr(GlueProvider, xform_name(op))]
    missing = [op for op in implemented if not re.search(rf"\b{op}\b", docs)]
    assert not missing, f"docs/api.md does not list: {missing}"
