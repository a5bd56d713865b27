"""Fill the Jinja2 templates and write self-contained HTML files (inline CSS and SVG only)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

import jinja2

from chirpdesk.reports import format as fmt
from chirpdesk.reports.plots import COLORS

TEMPLATES = Path(__file__).resolve().parent / "templates"


def environment() -> jinja2.Environment:
    """The Jinja2 environment: templates from ``reports/templates``, HTML autoescaping on."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(share=fmt.share, duration=fmt.duration, money=fmt.money, number=fmt.number)
    return env


def render_html(template: str, context: dict[str, Any]) -> str:
    """Render ``template`` (a file in ``reports/templates``) with ``context``; returns the HTML."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("chirpdesk")
    except PackageNotFoundError:  # running from a source tree that was never installed
        ver = "dev"
    base = {"colors": COLORS, "generated": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "version": ver, "notes": [], "description": ""}
    return environment().get_template(template).render({**base, **context})


def write_html(path: Path, html: str) -> Path:
    """Write ``html`` to ``path`` atomically (a reader never sees half a file); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(html)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; reports are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
