"""Inspection: metrics, diagnostic plots and HTML reports of fitted models.

matplotlib is imported only when a plot is drawn.
"""

from ._coefficients import coefficient_table, format_coefficients
from ._cv_plots import plot_cv_curve, plot_cv_paths
from ._cv_summary import cv_rows, cv_summary, format_cv_table, is_cv_model, iterations_text
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
    "cv_rows",
    "cv_summary",
    "format_cv_table",
    "format_coefficients",
    "format_metrics",
    "is_cv_model",
    "iterations_text",
    "plot_calibration",
    "plot_coefficients",
    "plot_cv_curve",
    "plot_cv_paths",
    "plot_decision_boundary",
    "plot_history",
    "plot_precision_recall",
    "plot_roc",
    "write_report",
]
