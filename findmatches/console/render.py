"""The console's Jinja2 templates (package data, autoescaped) and the filters they use."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2


def _when(epoch: float | None) -> str:
    """An epoch-seconds timestamp as UTC text ('' for none)."""
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(float(epoch), dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | int | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("findmatches.console", "templates"),
        autoescape=True,  # every template, whatever its name: record values are user data
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["duration"] = _duration
    return env


class Templates:
    """Render a page by template name; ``context`` is what every page gets (the session, its CSRF token)."""

    def __init__(self) -> None:
        self.env = environment()

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self.env.get_template(name).render(context)
