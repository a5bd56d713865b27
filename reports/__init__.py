"""HTML reports for chirpdesk runs: one self-contained ``report.html`` per run folder.

Reports read only the documented data files (docs/outputs.md), so any run folder can be
re-rendered (``chirpdesk report DIR``) or compared with another (``chirpdesk compare A B``).
Importing this package is cheap; matplotlib and Jinja2 load when a report is rendered.

>>> from chirpdesk.reports import render_run_report            # doctest: +SKIP
>>> render_run_report("runs/baseline")               # doctest: +SKIP
PosixPath('runs/baseline/report.html')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["REPORT_NAME", "render_compare", "render_run_report"]

#: File name of the report written into a run folder.
REPORT_NAME = "report.html"


def render_run_report(folder: str | Path, data: dict[str, Any] | None = None) -> Path:
    """Render ``folder/report.html`` from the run's data files; returns the report's path.

    ``data``, when given, is the run's data already in memory, as the kind's loader would
    return it (for a simulate run :func:`chirpdesk.reports.data.simulate_data`): the command
    that just wrote the folder passes it so that nothing is read back.

    The kind of run is detected from which file exists: summary.json (simulate), staff.json
    (staff), sweep.json (sweep) or loadtest.json (loadtest). Raises
    :class:`chirpdesk.sim.errors.ChirpdeskError` when the folder is missing or holds no data files.
    """
    from chirpdesk.reports.build import render_folder

    return render_folder(Path(folder), data)


def render_compare(folder_a: str | Path, folder_b: str | Path, out: str | Path) -> Path:
    """Render two simulate runs side by side into the HTML file ``out``; returns its path.

    Per metric: mean and 95% CI of A and B, the difference B − A, and a Welch t-test on the
    per-replication values (significant when p < 0.05), plus overlaid interval plots.
    """
    from chirpdesk.reports.compare import render_comparison

    return render_comparison(Path(folder_a), Path(folder_b), Path(out))
