"""The report's standard-error section: the coefficient table with standard errors, z,
p-values and confidence intervals (``LogisticRegression.coef_table``: the inverse observed
information on the training rows, as statsmodels' ``Logit``) and a forest plot of the
intervals. Only for unpenalised and L2 models (an L1 / elastic-net table would ignore the
selection, and says so), and only on the rows the model was fitted on."""

from __future__ import annotations

import warnings

from ._plots import plot_forest
from ._report_html import esc, figure, placeholder, table

FOREST_FILE = "forest.png"
_MAX_ROWS = 40


def standard_errors(model, rows, tmp) -> tuple[str, str]:
    """``(section HTML, plot HTML)``; ``rows``: ``(X, y)`` of the training data, or None."""
    title = "Standard errors"
    if rows is None:
        why = ("standard errors are computed on the rows the model was fitted on; this data is "
               "not them — pass the training file with --train")  # fmt: skip
        return f"<p>{esc(why)}</p>", placeholder("Forest plot", why)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            t = model.coef_table(*rows)
        except (ValueError, ArithmeticError) as exc:  # L1 / elastic-net, singular information
            why = " ".join(str(exc).split())
            return f"<p>{esc(why)}</p>", placeholder("Forest plot", why)
    notes = "".join(f'<p class="note">note: {esc(" ".join(str(w.message).split()))}</p>'
                    for w in caught)  # fmt: skip
    shown = t.iloc[:_MAX_ROWS]
    names = [" · ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in shown.index]
    cells = [
        [name, *(f"{v:.5g}" for v in row)]
        for name, row in zip(names, shown.to_numpy(), strict=True)
    ]
    more = f" (the first {_MAX_ROWS} of {len(t)} terms)" if len(t) > _MAX_ROWS else ""
    body = (f"<p>{esc(title)} from the inverse observed information on the training rows; "
            f"normal 95% intervals{esc(more)}.</p>" + notes
            + table(cells, ["term", *map(str, t.columns)]))  # fmt: skip
    slopes = [i for i, name in enumerate(names) if not name.endswith("intercept")]
    if not slopes:
        return body, placeholder(
            "Forest plot", "the model has no coefficient besides the intercept"
        )
    pick = shown.iloc[slopes]
    plot_forest([names[i] for i in slopes], pick["coef"], pick["ci_lower"], pick["ci_upper"],
                tmp / FOREST_FILE)  # fmt: skip
    return body, figure(FOREST_FILE, "Each coefficient (intercept left out) with its 95% "
                        "confidence interval; a bar that crosses the dashed zero line is not "
                        "significant at 5%.")  # fmt: skip
