"""Self-contained static HTML reports of a run, a suite or an ablation.

Modules: `source` (what a path holds: run, suite or ablation), `run_data` (a run's
header, monitors, leak matrix, drift curves, findings by session), `chains` (each
finding's evidence chain, from `sandbox.replay.explain`), `figures` (matplotlib PNG and
SVG), `render` (Jinja2 page, autoescaped, figures inline as data: URIs).
"""

from sandbox.html_report.render import write_report
from sandbox.html_report.source import ReportInputError, detect_source

__all__ = ["ReportInputError", "detect_source", "write_report"]
