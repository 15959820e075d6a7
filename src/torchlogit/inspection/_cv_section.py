"""The report's cross-validation section, for a model with a CV path
(``LogisticRegressionCV``): the table of mean held-out score ± SE and non-zeros per grid
point (:func:`~torchlogit.inspection.cv_rows`, the min and 1se choices marked), the CV curve
and the coefficient paths (:mod:`._cv_plots`). Everything comes from the model file: the
fold scores and fold coefficients, no data."""

from __future__ import annotations

from ._cv_plots import plot_cv_curve, plot_cv_paths
from ._cv_summary import cv_rows, cv_summary, is_cv_model, scoring_name
from ._report_html import esc, figure, table

CV_CURVE_FILE = "cv_curve.png"
CV_PATHS_FILE = "cv_paths.png"


def cv_section(model, feature_names, tmp) -> tuple[str, list[str]]:
    """``(section HTML, [figure HTML, ...])``; empty for a model without a CV path."""
    if not is_cv_model(model):
        return "", []
    s = cv_summary(model)
    selection = getattr(model, "selection", "min")
    scoring = scoring_name(model)
    plot_cv_curve(s, tmp / CV_CURVE_FILE, scoring=scoring, selection=selection)
    plot_cv_paths(s, feature_names, model.classes_, tmp / CV_PATHS_FILE)
    r, k = s[selection]
    ratio = s["l1_ratios"][r]
    at = f"C = {s['Cs'][k]:.4g}" + ("" if ratio is None else f", l1_ratio = {ratio:g}")
    header, rows = cv_rows(model)
    grid = f"{len(s['Cs'])} value{'s' * (len(s['Cs']) > 1)} of C"
    intro = (
        f"{s['n_folds']} folds, {grid}, held-out {scoring} (larger is "
        f"better); SE = std over folds (ddof 1) / √{s['n_folds']}. min: the best mean; 1se: the "
        f"smallest C within one SE of it at its l1_ratio. Chosen ({selection}): {at}; the model "
        "above is refitted on all rows there. Non-zeros: the folds' mean count of non-zero "
        "coefficients (intercept left out)."
    )
    figures = [
        figure(CV_CURVE_FILE, f"Mean held-out {scoring} ± one standard error against log10 C; "
               "dashed: the min choice, dotted: the 1se choice."),
        figure(CV_PATHS_FILE, "Each coefficient (the folds' mean at each C, at the chosen "
               "l1_ratio) against log10 C; the largest are named."),
    ]  # fmt: skip
    return f"<p>{esc(intro)}</p>" + table(rows, header), figures
