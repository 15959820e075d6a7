"""Tables and tests from :class:`InferenceMoments` and a covariance ``V`` (as statsmodels).

- coefficient table: ``z = β / se`` with ``se = sqrt(diag V)``, two-sided ``p = 2 Φ(-|z|)``,
  interval ``β ± Φ^{-1}(1 - α/2) se`` (normal, as statsmodels' ``Logit`` / ``MNLogit``);
- Wald test of ``R β = q``: ``W = (Rβ - q)^T (R V R^T)^{-1} (Rβ - q) ~ χ²(rank R)``;
- likelihood-ratio test of nested models: ``LR = 2 (ℓ_big - ℓ_small) ~ χ²(q_big - q_small)``;
- the null log-likelihood (intercept only, no offset) in closed form from the class weight
  sums ``n_k``: ``ℓ_0 = sum_k n_k log(n_k / N)``; McFadden's pseudo R² ``1 - ℓ / ℓ_0``.

:class:`InferenceResult` holds one pass's moments and answers all of these for any
``cov_type`` (as a statsmodels results object): the data are not read again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._covariance import covariance


@dataclass(frozen=True)
class ChiSquareTest:
    """A χ² test: ``statistic``, degrees of freedom ``df`` and ``p_value``."""

    statistic: float
    df: int
    p_value: float

    def __iter__(self):  # statistic, df, p_value = result
        return iter((self.statistic, self.df, self.p_value))


def coefficient_table(moments, V: np.ndarray, alpha: float = 0.05):
    """A pandas DataFrame: ``coef, std_err, z, p_value, ci_lower, ci_upper`` per parameter;
    index: the terms (``"intercept"`` first), a ``(class, term)`` MultiIndex for ``K > 2``."""
    import pandas as pd

    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    beta = moments.params
    se = np.sqrt(np.diag(V))
    z = beta / se
    half = stats.norm.ppf(1 - alpha / 2) * se
    if moments.terms and isinstance(moments.terms[0], tuple):
        index = pd.MultiIndex.from_tuples(moments.terms, names=["class", "term"])
    else:
        index = pd.Index(moments.terms, name="term")
    return pd.DataFrame(
        {
            "coef": beta,
            "std_err": se,
            "z": z,
            "p_value": 2 * stats.norm.sf(np.abs(z)),
            "ci_lower": beta - half,
            "ci_upper": beta + half,
        },
        index=index,
    )


def wald_test(moments, V: np.ndarray, R, q=None) -> ChiSquareTest:
    """The Wald test of ``R β = q`` (``R``: ``(r, q_params)`` or one row; ``q`` default 0)."""
    R = np.atleast_2d(np.asarray(R, dtype=np.float64))
    if R.shape[1] != moments.n_params:
        raise ValueError(
            f"R must have {moments.n_params} columns (one per parameter, in the table's "
            f"order), got shape {R.shape}"
        )
    q = np.zeros(R.shape[0]) if q is None else np.asarray(q, np.float64).reshape(-1)
    if q.shape != (R.shape[0],):
        raise ValueError(f"q must have {R.shape[0]} entries (one per row of R), got {q.shape}")
    diff = R @ moments.params - q
    RVR = R @ V @ R.T
    rank = int(np.linalg.matrix_rank(RVR))
    if rank < R.shape[0]:
        raise ValueError(f"the rows of R are linearly dependent (rank {rank} < {R.shape[0]})")
    stat = float(diff @ np.linalg.solve(RVR, diff))
    return ChiSquareTest(stat, rank, float(stats.chi2.sf(stat, rank)))


def likelihood_ratio_test(big, small) -> ChiSquareTest:
    """The LR test of the nested ``small`` model against ``big`` (two moments' ``loglik``,
    ``n_params``); the order of the arguments does not matter."""
    if big.n_params < small.n_params:
        big, small = small, big
    if big.n_params == small.n_params:
        raise ValueError("the two models have the same number of parameters: not nested")
    if not np.isclose(big.n_obs, small.n_obs, rtol=1e-12):
        raise ValueError(
            f"the models were evaluated on different data ({big.n_obs} vs {small.n_obs} "
            "observations)"
        )
    stat = 2.0 * (big.loglik - small.loglik)
    df = big.n_params - small.n_params
    return ChiSquareTest(float(stat), df, float(stats.chi2.sf(stat, df)))


def null_loglik(moments) -> float | None:
    """``ℓ_0 = sum_k n_k log(n_k / N)``: the intercept-only model; None without an
    intercept or with an offset (no closed form)."""
    if not moments.fit_intercept or moments.has_offset:
        return None
    n = moments.class_weights[moments.class_weights > 0]
    return float((n * np.log(n / n.sum())).sum())


def summary_text(moments, table, *, cov_type: str, model: str = "") -> str:
    """A statsmodels-like summary: fit statistics, then the coefficient table."""
    import pandas as pd

    K = len(moments.classes)
    q = moments.n_params
    df_model = q - (K - 1 if moments.fit_intercept else 0)
    ll0 = null_loglik(moments)
    rows = [
        ("Model", ("Logit" if K == 2 else "MNLogit") + (f" ({model})" if model else "")),
        ("Classes", ", ".join(map(str, moments.classes.tolist()))),
        ("No. observations", f"{moments.n_obs:g}" + _rows_note(moments)),
        ("Df residuals", f"{moments.n_obs - q:g}"),
        ("Df model", f"{df_model}"),
        (
            "Covariance type",
            cov_type + (f" ({moments.n_groups} groups)" if cov_type == "cluster" else ""),
        ),
        ("Log-likelihood", f"{moments.loglik:.6g}"),
    ]
    if ll0 is not None:
        llr = 2 * (moments.loglik - ll0)
        rows += [
            ("LL-Null", f"{ll0:.6g}"),
            ("Pseudo R-squ.", f"{1 - moments.loglik / ll0:.4f}"),
            ("LLR p-value", f"{stats.chi2.sf(llr, df_model):.4g}"),
        ]
    if moments.penalized:
        rows.append(("Note", "penalised (L2) estimator: not valid for classical tests"))
    width = max(len(k) for k, _ in rows)
    head = "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
    with pd.option_context("display.width", 120, "display.max_rows", 500):
        body = table.to_string(float_format=lambda v: f"{v:.4g}")
    rule = "=" * max(len(line) for line in (head + "\n" + body).splitlines())
    return f"{rule}\n{head}\n{rule}\n{body}\n{rule}"


def _rows_note(moments) -> str:
    return f" ({moments.n_rows} rows)" if moments.n_rows != round(moments.n_obs) else ""


class InferenceResult:
    """The moments of one pass over the training data (:class:`InferenceMoments`) and every
    table and test built from them, for any ``cov_type`` (one of :data:`COV_TYPES`; each
    covariance computed once and kept), as a statsmodels ``LogitResults``: nothing here reads
    the data again.

    ``"HC0"`` / ``"HC1"`` need the moments computed with the HC0 meat, ``"cluster"`` with
    groups; the others are always available.
    """

    def __init__(self, moments):
        self.moments = moments
        self._cov: dict[str, np.ndarray] = {}

    @property
    def params(self) -> np.ndarray:
        """``(q,)`` the parameters in the table's order (intercept first)."""
        return self.moments.params

    @property
    def loglik(self) -> float:
        """``ℓ = sum_i s_i log p(y_i)`` at the fitted coefficients."""
        return self.moments.loglik

    @property
    def n_obs(self) -> float:
        """``N``: the weight sum (the number of observations under frequency weights)."""
        return self.moments.n_obs

    def covariance_matrix(self, cov_type: str = "nonrobust") -> np.ndarray:
        """The ``(q, q)`` covariance of :attr:`params` (a copy)."""
        if cov_type not in self._cov:
            self._cov[cov_type] = covariance(self.moments, cov_type)
        return self._cov[cov_type].copy()

    def std_errors(self, cov_type: str = "nonrobust") -> np.ndarray:
        """``(q,)``: ``sqrt(diag V)``."""
        return np.sqrt(np.diag(self.covariance_matrix(cov_type)))

    def coef_table(self, cov_type: str = "nonrobust", alpha: float = 0.05):
        """:func:`coefficient_table` for ``cov_type``."""
        return coefficient_table(self.moments, self.covariance_matrix(cov_type), alpha)

    def summary(self, cov_type: str = "nonrobust", alpha: float = 0.05) -> str:
        """:func:`summary_text` for ``cov_type``."""
        table = self.coef_table(cov_type, alpha)
        return summary_text(self.moments, table, cov_type=cov_type)

    def wald_test(self, R, q=None, cov_type: str = "nonrobust") -> ChiSquareTest:
        """:func:`wald_test` of ``R β = q`` with the ``cov_type`` covariance."""
        return wald_test(self.moments, self.covariance_matrix(cov_type), R, q)

    def __repr__(self) -> str:
        m = self.moments
        kinds = ["nonrobust"] + (["HC0", "HC1"] if m.meat is not None else [])
        kinds += ["cluster"] if m.cluster_meat is not None else []
        return (
            f"InferenceResult({m.n_params} parameters, N={m.n_obs:g}, "
            f"loglik={m.loglik:.6g}, cov_types={kinds})"
        )
