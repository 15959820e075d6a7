"""Inspection: metrics, diagnostic plots and HTML reports of fitted models.

matplotlib is imported only when a plot is drawn.
"""

from ._coefficients import coefficient_table, format_coefficients
from ._metrics import check_labels, classification_metrics, format_metrics
from ._plots import (
    plot_calibration,
    plot_coefficients,
    plot_decision_boundary,
    plot_history,
    plot_precision_recall,
    plot_roc,
)
from ._report import REPORT_FILES, write_report

__all__ = [
    "REPORT_FILES",
    "check_labels",
    "classification_metrics",
    "coefficient_table",
    "format_coefficients",
    "format_metrics",
    "plot_calibration",
    "plot_coefficients",
    "plot_decision_boundary",
    "plot_history",
    "plot_precision_recall",
    "plot_roc",
    "write_report",
]
