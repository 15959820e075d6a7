"""``torchlogit show MODEL``: what a model file holds, without any data.

The model (class, penalty, C, classes, features), what it was trained on (the file, rows,
target, weights, standardisation), how the fit ended (solver, iterations, convergence) and
the coefficient table with the intercept.
"""

from __future__ import annotations

from ._common import add_device_argument
from ._main import register_command


def _add_arguments(parser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model file written by 'torchlogit fit'")
    parser.add_argument(
        "--top",
        type=int,
        default=None,
        metavar="N",
        help="only the N largest coefficients (default: all)",
    )
    add_device_argument(parser)


def _tol(model) -> str:
    tol = getattr(model, "tol_", None)
    tol = model.tol if tol is None else tol
    return "the solver's default" if tol is None else f"{tol:g}"


def _penalty(model) -> str:
    from ..fitting import effective_penalty
    from ..inspection import is_cv_model

    if is_cv_model(model):  # C_ (and l1_ratio_) chosen by cross-validation
        ratio = model.l1_ratio_ if model.penalty == "elasticnet" else None
        C, (kind, l1_ratio) = model.C_, effective_penalty(model.penalty, model.C_, ratio)
    else:
        C, (kind, l1_ratio) = model.C, effective_penalty(model.penalty, model.C, model.l1_ratio)
    if kind is None:
        return "none"
    text = f"{kind}, C {C:g}"
    if kind == "elasticnet":
        text += f", l1-ratio {l1_ratio:g}"
    return text


def _cross_validation(model, user: dict) -> list[str]:
    """For a cross-validated model: the folds, the grid, the score and the choice."""
    import numpy as np

    from ..inspection import cv_summary, is_cv_model

    if not is_cv_model(model):
        return []
    s = cv_summary(model)
    folds = user.get("cv_folds") or f"{s['n_folds']} folds"
    Cs = s["Cs"]
    ratios = "" if len(s["l1_ratios"]) < 2 else f" x {len(s['l1_ratios'])} l1 ratios"
    scoring = model.scoring if isinstance(model.scoring, str) else "a custom scorer"
    other = "1se" if model.selection == "min" else "min"
    k_other = s[other][1]
    grid = f"{len(Cs)} value{'s' * (len(Cs) > 1)} of C"
    return [
        f"cross-valid.   {folds}, {grid} from {np.min(Cs):.4g} to "
        f"{np.max(Cs):.4g}{ratios}, scoring {scoring}",
        f"chosen         C_ {model.C_:.6g} by --selection {model.selection} (the {other} "
        f"choice: C {Cs[k_other]:.6g}); refitted on all rows",
    ]


def describe(model, user: dict, path) -> list[str]:
    """The lines of ``show`` above the coefficient table."""
    from ..inspection import iterations_text

    classes = [str(c) for c in model.classes_]
    lines = [
        f"model file     {path}",
        f"model          {type(model).__name__} ({len(classes)} classes, "
        f"{'binary: one logit' if len(classes) == 2 else 'multinomial: softmax'})",
        f"penalty        {_penalty(model)}" + ("" if model.fit_intercept else "; no intercept"),
        f"classes        {', '.join(classes)}",
        f"features       {model.n_features_in_}",
    ]
    if user.get("training_data") is not None:
        rows = f", {user['n_samples']} rows" if user.get("n_samples") is not None else ""
        target = f", target {user['target']!r}" if user.get("target") else ""
        weight = f", weights from {user['weight']!r}" if user.get("weight") else ""
        lines.append(f"trained on     {user['training_data']}{rows}{target}{weight}")
    lines += _cross_validation(model, user)
    if user.get("standardize"):
        lines.append(
            "standardized   yes: fitted on centred, unit-variance columns; the coefficients "
            "below are on the original columns"
        )
    h = getattr(model, "history_", None) or {}
    gn = h.get("gradient_norm") or []
    state = "converged" if getattr(model, "converged_", True) else "did NOT converge"
    grad = f", max|grad| {gn[-1]:.2e} (tol {_tol(model)})" if gn else ""
    lines.append(f"fit            {getattr(model, 'solver_', '?')}: {iterations_text(model)}, "
                 f"{state}{grad}")  # fmt: skip
    return lines


def run(args) -> int:
    from ..inspection import format_coefficients
    from ._common import load_model

    model, user = load_model(args.model, device=args.device)
    print("\n".join(describe(model, user, args.model)))
    print("\ncoefficients (largest first):")
    print(format_coefficients(model, top=args.top))
    return 0


register_command("show", "print what a model file holds: settings, data, coefficients",
                 _add_arguments, run)  # fmt: skip
