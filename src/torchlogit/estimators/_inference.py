"""Standard errors, tables and tests for a fitted estimator (statsmodels' ``Logit`` / ``MNLogit``).

The estimator keeps no data: each method takes the training data again (arrays, sparse, a
streaming source; on every rank of a distributed fit its own rows), prepares them through
the one preparation path and reads them once at the fitted coefficients
(:func:`torchlogit.fitting.inference_moments`). :meth:`InferenceMixin.inference` keeps that
pass's sums in an :class:`~torchlogit.fitting.InferenceResult` (as statsmodels' results
object) so that several covariances, tables and tests cost one pass; the other methods read
the data for their one ``cov_type``. The maths is in :mod:`torchlogit.fitting`.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from .. import distributed as _distributed
from .. import fitting
from ..data import StreamingSource, prepare
from ._namespace import numpy_of


class InferenceMixin:
    """``inference`` (one pass, every ``cov_type``), ``coef_table``, ``covariance_matrix``,
    ``std_errors``, ``summary``, ``wald_test`` and ``likelihood_ratio_test`` for an estimator
    with ``coef_tensor_`` and ``_spec``.

    Parameters shared by the methods: ``X``, ``y``, ``sample_weight`` (frequency weights: an
    integer weight equals repeated rows, standard errors included), ``offset`` as in ``fit``
    (the data the model was fitted on); ``cov_type`` one of ``"nonrobust"`` (inverse observed
    information), ``"HC0"`` (sandwich), ``"HC1"`` (HC0 · N/(N − q)), ``"cluster"`` (one-way,
    with ``groups=``: one label per row, or with a streaming source the name of a column of
    it; statsmodels' correction G/(G−1)·(N−1)/(N−q)). Parameters are ordered intercept first;
    with ``K > 2`` classes they are the contrasts of ``classes_[1:]`` against ``classes_[0]``
    (statsmodels' ``MNLogit``), class-major.
    """

    def _moments(self, X, y, sample_weight, groups, offset, meat=True) -> fitting.InferenceMoments:
        check_is_fitted(self, "_coef")
        reducer = _distributed.reducer_for(self.distributed)
        validator = clone(self)
        training = prepare(
            X,
            y,
            sample_weight,
            validator=validator,
            class_weight=self.class_weight,
            offset=offset,
            dtype=self._coef.dtype,
            device=self._coef.device,
            reducer=reducer,
        )
        if training.n_features != self.n_features_in_:
            raise ValueError(
                f"X has {training.n_features} features, but {type(self).__name__} was fitted "
                f"with {self.n_features_in_}: pass the data the model was fitted on"
            )
        names = getattr(self, "feature_names_in_", None)
        seen = getattr(validator, "feature_names_in_", None)
        if names is not None and (seen is None or list(seen) != list(names)):
            raise ValueError("X's feature names differ from those seen in fit")
        if not np.array_equal(training.classes, numpy_of(self.classes_)):
            raise ValueError(
                f"the data hold the classes {training.classes!r}, but the model was fitted on "
                f"{self.classes_!r}"
            )
        codes = None
        if groups is not None:
            if isinstance(groups, str) and isinstance(X, StreamingSource):
                groups = X.read_column(groups)
            codes = fitting.encode_groups(groups, training.reducer)
        spec = self._fitted_spec(training.n_features)
        return fitting.inference_moments(
            spec, training, self._coef, groups=codes, names=names, meat=meat
        )

    def _result(self, X, y, sample_weight, groups, offset, cov_type) -> fitting.InferenceResult:
        """One ``cov_type``'s result: the HC0 meat only when that covariance needs it."""
        robust = cov_type in ("HC0", "HC1")
        return fitting.InferenceResult(
            self._moments(X, y, sample_weight, groups, offset, meat=robust)
        )

    def inference(
        self, X, y=None, sample_weight=None, *, groups=None, offset=None
    ) -> fitting.InferenceResult:
        """Read the training data once and return an
        :class:`~torchlogit.fitting.InferenceResult` (as statsmodels' ``Logit(...).fit()``):
        ``coef_table``, ``covariance_matrix``, ``std_errors``, ``summary`` and ``wald_test``
        for every ``cov_type`` (``"cluster"`` when ``groups`` is given) without another pass.

        The one pass sums the information ``I``, the HC0 meat ``M`` and, with ``groups``, the
        cluster meat ``M_c`` at the fitted coefficients; call it again after a refit.
        """
        return fitting.InferenceResult(
            self._moments(X, y, sample_weight, groups, offset, meat=True)
        )

    def covariance_matrix(
        self, X, y=None, sample_weight=None, *, cov_type="nonrobust", groups=None, offset=None
    ) -> np.ndarray:
        """The ``(q, q)`` covariance of the parameters (intercept first), float64."""
        result = self._result(X, y, sample_weight, groups, offset, cov_type)
        return result.covariance_matrix(cov_type)

    def std_errors(
        self, X, y=None, sample_weight=None, *, cov_type="nonrobust", groups=None, offset=None
    ) -> np.ndarray:
        """The ``(q,)`` standard errors ``sqrt(diag(covariance_matrix))``."""
        return self._result(X, y, sample_weight, groups, offset, cov_type).std_errors(cov_type)

    def coef_table(
        self,
        X,
        y=None,
        sample_weight=None,
        *,
        cov_type="nonrobust",
        groups=None,
        alpha=0.05,
        offset=None,
    ):
        """A pandas DataFrame: ``coef``, ``std_err``, ``z``, ``p_value``, ``ci_lower``,
        ``ci_upper`` (normal; level ``1 - alpha``); index ``"intercept"`` then the feature
        names (``x0, x1, ...`` without names), a ``(class, term)`` MultiIndex for ``K > 2``.
        Each call reads the data once; for several ``cov_type`` use :meth:`inference`."""
        result = self._result(X, y, sample_weight, groups, offset, cov_type)
        return result.coef_table(cov_type, alpha)

    def summary(
        self,
        X,
        y=None,
        sample_weight=None,
        *,
        cov_type="nonrobust",
        groups=None,
        alpha=0.05,
        offset=None,
    ) -> str:
        """A statsmodels-like text summary: fit statistics (observations, log-likelihood,
        null log-likelihood, pseudo R², LLR p-value) and the coefficient table."""
        return self._result(X, y, sample_weight, groups, offset, cov_type).summary(cov_type, alpha)

    def wald_test(
        self,
        R,
        q=None,
        X=None,
        y=None,
        sample_weight=None,
        *,
        cov_type="nonrobust",
        groups=None,
        offset=None,
    ) -> fitting.ChiSquareTest:
        """Wald test of ``R β = q`` (``R``: ``(r, q)`` in the table's parameter order, ``q``
        default 0): ``(statistic, df, p_value)`` with the χ²(r) distribution."""
        if X is None:
            raise ValueError("wald_test needs the training data: wald_test(R, q, X, y)")
        result = self._result(X, y, sample_weight, groups, offset, cov_type)
        return result.wald_test(R, q, cov_type)

    def likelihood_ratio_test(
        self, other, X, y=None, sample_weight=None, *, other_X=None, offset=None
    ) -> fitting.ChiSquareTest:
        """LR test between this model and ``other``, nested, unpenalised, fitted on the same
        rows: ``2 (ℓ_big - ℓ_small)`` against χ²(difference in parameters).

        ``other`` is evaluated on ``other_X`` when given; else on ``X``. A DataFrame is cut
        to each model's ``feature_names_in_``.
        """
        other_X = X if other_X is None else other_X
        X, other_X = _columns_of(self, X), _columns_of(other, other_X)
        for model in (self, other):
            if model._fitted_spec(model.n_features_in_).penalized:
                raise ValueError(
                    "the likelihood-ratio test needs unpenalised fits (penalty=None): a "
                    "penalised log-likelihood ratio has no χ² distribution"
                )
        mine = self._moments(X, y, sample_weight, None, offset, meat=False)
        theirs = other._moments(other_X, y, sample_weight, None, offset, meat=False)
        return fitting.likelihood_ratio_test(mine, theirs)


def _columns_of(model, X):
    """``X`` cut to ``model.feature_names_in_`` when both have column names."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None and hasattr(X, "columns"):
        return X[list(names)]
    return X
