"""Dispatch a run folder to the view for its kind and write ``report.html``."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from chirpdesk.reports.data import detect_kind
from chirpdesk.reports.render import render_html, write_html

#: View module per kind; each has ``build(folder) -> dict`` (the template context).
VIEWS: dict[str, str] = {
    "simulate": "chirpdesk.reports.simulate",
    "staff": "chirpdesk.reports.staff",
    "sweep": "chirpdesk.reports.sweep",
    "loadtest": "chirpdesk.reports.loadtest",
    "calibrate": "chirpdesk.reports.calibrate",
    "forecast": "chirpdesk.reports.forecast",
    "backtest": "chirpdesk.reports.backtest",
}


def render_folder(folder: Path, data: dict[str, Any] | None = None) -> Path:
    """Render ``folder/report.html`` for whatever kind of run the folder holds; returns its path.

    ``data``: the run's data already loaded (see :func:`chirpdesk.reports.render_run_report`);
    only the simulate view takes it, the others read their (interval-sized) files.
    """
    from chirpdesk.reports import REPORT_NAME

    kind = detect_kind(folder)
    view = importlib.import_module(VIEWS[kind])
    context = view.build(folder, data) if data is not None and kind == "simulate" else view.build(folder)
    return write_html(folder / REPORT_NAME, render_html(f"{kind}.html.j2", context))
