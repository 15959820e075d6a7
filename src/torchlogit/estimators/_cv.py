"""``LogisticRegressionCV``: ``C`` (and ``l1_ratio``) chosen by cross-validation over paths.

The numerics live in :mod:`torchlogit.fitting` (:func:`~torchlogit.fitting.cross_validate`):
the data are prepared once, each fold is a weighting of the same prepared rows, each fold's
path runs from the strongest penalty with warm starts. This class validates the parameters,
builds the grid and the folds, scores the held-out predictions with a scikit-learn scorer,
selects the point and refits.
"""

from __future__ import annotations

import dataclasses
from numbers import Integral

import numpy as np
import torch
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if

from .. import distributed as _distributed
from .. import fitting
from ..data import HashFolds, IndexFolds, prepare, validate_sample_weight
from ._logistic import LogisticRegression

__all__ = ["LogisticRegressionCV"]

#: Decades spanned by a data-driven grid (L1 / elastic-net, ``Cs`` an int) above ``C_min``.
GRID_DECADES = 4.0


class _HeldOut(ClassifierMixin, BaseEstimator):
    """What a scorer sees for one path point: the held-out rows' predictions, computed
    beforehand from the prepared data (``raw``: ``(n_test, m)`` logits). ``X`` is ignored
    beyond its length."""

    def __init__(self, raw=None, classes=None):
        self.raw = raw
        self.classes = classes

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return self.classes

    def _check(self, X):
        if X is not None and hasattr(X, "shape") and X.shape[0] != self.raw.shape[0]:
            raise ValueError("the scorer's X is not the fold's held-out rows")

    def decision_function(self, X):
        self._check(X)
        return self.raw[:, 0] if self.raw.shape[1] == 1 else self.raw

    def predict_log_proba(self, X):
        self._check(X)
        z = self.raw
        if z.shape[1] == 1:  # log sigmoid(-z), log sigmoid(z)
            return -np.logaddexp(0.0, np.concatenate([z, -z], axis=1))
        return z - logsumexp(z, axis=1, keepdims=True)

    def predict_proba(self, X):
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        self._check(X)
        idx = (self.raw[:, 0] > 0).astype(int) if self.raw.shape[1] == 1 else self.raw.argmax(1)
        return self.classes[idx]


def _scorer(scorer, classes):
    """scikit-learn's scorer for ``scoring``, told every class (a fold's held-out rows may lack
    one) as ``LogisticRegressionCV`` does: ``labels=classes`` and, for two classes,
    ``pos_label=classes[1]`` where the metric takes them."""
    func = getattr(scorer, "_score_func", None)
    if func is None:
        return scorer
    import inspect

    sig = inspect.signature(func).parameters
    if "labels" not in sig:
        return scorer
    extra = {"pos_label": classes[-1]} if len(classes) == 2 and "pos_label" in sig else {}
    return make_scorer(
        func,
        greater_is_better=scorer._sign == 1,
        response_method=scorer._response_method,
        labels=classes,
        **extra,
        **getattr(scorer, "_kwargs", {}),
    )


class LogisticRegressionCV(LogisticRegression):
    """:class:`LogisticRegression` with ``C`` (and ``l1_ratio``) chosen by cross-validation.

    For each fold ``f`` (training rows ``T_f``, held-out rows ``V_f``), each ``l1_ratio``
    ``rho`` and each ``C`` of the grid, the path point minimises

    .. math::  C \\sum_{i \\in T_f} s_i \\, \\mathrm{logloss}(y_i, z_i) + r_\\rho(W)

    (the objective of :class:`LogisticRegression`, class weights computed on all rows), and
    is scored on ``V_f`` with ``scoring`` and the held-out ``sample_weight``. ``scores_`` has
    shape ``(n_folds, n_l1_ratios, n_Cs)``. ``selection="min"`` takes the point of largest
    summed (mean) score; ``"1se"`` the smallest ``C`` (for the best point's ``l1_ratio``)
    whose mean score is at least the best mean minus one standard error, ``SE = std(scores
    at the best point, ddof=1) / sqrt(n_folds)``, glmnet's ``lambda.1se``. With ``refit`` the
    model is fitted on all rows at the chosen point, warm-started from the mean of the
    folds' coefficients there; without it, as scikit-learn: for ``"min"`` each fold's best
    point is taken and ``coef_``, ``C_`` (and ``l1_ratio_``) are their means; for ``"1se"``
    the folds' mean at the chosen point.

    Given the same ``Cs`` and splits, the attributes are those of scikit-learn's
    ``LogisticRegressionCV(..., use_legacy_attributes=False)``.

    Parameters
    ----------
    Cs : int or array-like of floats > 0, default=10
        The grid. An int ``L``: for L2, ``np.logspace(-4, 4, L)`` (scikit-learn's); for L1 /
        elastic-net, ``L`` values log-spaced from ``C_min`` (every penalised coefficient
        zero, :func:`torchlogit.l1_min_c` for the smallest positive ``l1_ratio``) up
        :data:`GRID_DECADES` decades above the largest ``C_min``.
    l1_ratios : array-like of floats in [0, 1] or None
        Required with ``penalty="elasticnet"``, else unused.
    cv : int, cross-validation splitter or iterable of (train, test) index pairs, default=None
        As :func:`sklearn.model_selection.check_cv` (None: 5 stratified folds).
    scoring : str or callable, default="neg_log_loss"
        A scikit-learn scorer name or a callable ``scorer(estimator, X, y)``.
    selection : {"min", "1se"}, default="min"
    refit : bool, default=True
    Other parameters as :class:`LogisticRegression` (``penalty``, ``penalty_factor``,
    bounds, ``fit_intercept``, ``class_weight``, ``solver``, ``tol``, ``max_iter``,
    ``device``, ``dtype``, ``verbose``, ``solver_options``).

    Attributes
    ----------
    Cs_ : ndarray (n_Cs,)
    l1_ratios_ : ndarray (n_l1_ratios,) (``[None]`` unless elastic-net)
    C_, l1_ratio_ : float
    scores_ : ndarray (n_folds, n_l1_ratios, n_Cs)
    coefs_paths_ : ndarray (n_folds, n_l1_ratios, n_Cs, 1 or K, d + fit_intercept)
    n_iter_ : ndarray (n_folds, n_l1_ratios, n_Cs)
    coef_, intercept_, classes_, ... : as :class:`LogisticRegression`
    """

    # LogisticRegression's parameters that a CV estimator sets itself (read by its spec).
    C = 1.0
    l1_ratio = None
    warm_start = False
    checkpoint_dir = None

    _parameter_constraints: dict = {
        **{
            k: v
            for k, v in LogisticRegression._parameter_constraints.items()
            if k not in {"C", "l1_ratio", "warm_start", "checkpoint_dir"}
        },
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like", None],
        "cv": ["cv_object", HashFolds],
        "scoring": [str, callable],
        "selection": [StrOptions({"min", "1se"})],
        "refit": ["boolean"],
    }

    def __init__(
        self,
        *,
        Cs=10,
        l1_ratios=None,
        cv=None,
        scoring="neg_log_loss",
        selection="min",
        refit=True,
        penalty="l2",
        dual=False,
        penalty_factor=None,
        lower_bounds=None,
        upper_bounds=None,
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        random_state=None,
        solver="auto",
        tol=None,
        max_iter=100,
        device=None,
        dtype=None,
        verbose=0,
        n_jobs=None,
        solver_options=None,
        distributed="auto",
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.selection = selection
        self.refit = refit
        self.penalty = penalty
        self.dual = dual
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.device = device
        self.dtype = dtype
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.solver_options = solver_options
        self.distributed = distributed

    # ------------------------------------------------------------------ checks
    def _check_params(self, *, distributed: bool = False):
        self._validate_params()
        fitting.check_alias(self.solver, self.penalty, dual=self.dual)
        fitting.check_solver(self.solver, options=self.solver_options)
        fitting.validate_bounds(self.lower_bounds, self.upper_bounds, None)
        if not isinstance(self.Cs, Integral):
            Cs = np.asarray(self.Cs, dtype=np.float64).reshape(-1)
            if Cs.size == 0 or not np.all(np.isfinite(Cs) & (Cs > 0)):
                raise ValueError(f"Cs must be an int >= 1 or finite values > 0, got {self.Cs!r}")
        if self.penalty == "elasticnet":
            ratios = np.asarray(
                [] if self.l1_ratios is None else self.l1_ratios, dtype=np.float64
            ).reshape(-1)
            if ratios.size == 0 or not np.all((ratios >= 0) & (ratios <= 1)):
                raise ValueError(
                    "l1_ratios must be given with penalty='elasticnet': numbers in [0, 1], "
                    f"got {self.l1_ratios!r}"
                )
            return list(ratios)
        if self.l1_ratios is not None:
            raise ValueError(
                f"l1_ratios is only used with penalty='elasticnet', got penalty={self.penalty!r}"
            )
        if self.penalty is None:
            raise ValueError("penalty=None has no C to choose: use LogisticRegression")
        return [None]

    def _folds(self, training):
        """The folds: a scikit-learn splitter's index pairs for rows in memory on one process;
        for a stream or a distributed fit, ``cv`` (an int, default 5) folds by a hash of the
        row position (:class:`~torchlogit.data.HashFolds`), or a given ``HashFolds``."""
        if isinstance(self.cv, HashFolds):
            return self.cv
        if training.streamed or training.distributed:
            if self.cv is not None and not isinstance(self.cv, Integral):
                raise ValueError(
                    "with a data source or a distributed fit, cv must be an int (folds by a "
                    f"hash of the row position) or a HashFolds, got {self.cv!r}"
                )
            return HashFolds(5 if self.cv is None else int(self.cv))
        y_labels = training.classes[training.data.batch.y.cpu().numpy()]
        n = len(y_labels)
        splitter = check_cv(self.cv, y_labels, classifier=True)
        folds = [
            (np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64))
            for tr, te in splitter.split(np.zeros((n, 0)), y_labels)
        ]
        if len(folds) < 2:
            raise ValueError(f"cv must give at least 2 splits, got {len(folds)}")
        for k, (tr, te) in enumerate(folds):
            if tr.size == 0 or te.size == 0:
                raise ValueError(f"cv split {k} has an empty training or held-out set")
            if min(tr.min(), te.min()) < 0 or max(tr.max(), te.max()) >= n:
                raise ValueError(f"cv split {k} has row indices outside [0, {n})")
        return IndexFolds(folds, n)

    @staticmethod
    def _score_weights(training, sample_weight):
        """The held-out rows' scoring weights: the given ``sample_weight`` (class weights not
        included, as scikit-learn), a source's weight column (its prepared weights over the
        class weight), or none."""
        if not training.streamed:
            if sample_weight is None:
                return lambda where, y, s: None
            local = validate_sample_weight(sample_weight, training.data.n_samples)
            return lambda where, y, s: local[where]
        cw = np.asarray(training.data.class_weights, dtype=np.float64)
        safe = np.where(cw > 0, cw, 1.0)
        return lambda where, y, s: np.where(cw[y] > 0, s / safe[y], 0.0)

    def _grid(self, spec, training, ratios) -> np.ndarray:
        if not isinstance(self.Cs, Integral):
            return np.asarray(self.Cs, dtype=np.float64).reshape(-1)
        positive = [r for r in (1.0 if r is None else r for r in ratios) if r > 0]
        if self.penalty == "l2" or not positive:
            return np.logspace(-4, 4, int(self.Cs))
        null = fitting.null_model(spec, training)
        lows = [fitting.min_C(spec, training, r, null=null) for r in positive]
        lo, hi = np.log10(min(lows)), np.log10(max(lows)) + GRID_DECADES
        return np.logspace(lo, hi, int(self.Cs))

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None):
        """Cross-validate the grid on ``(X, y, sample_weight)`` (or a streaming source) and
        fit the chosen model."""
        reducer = _distributed.reducer_for(self.distributed)
        ratios = self._check_params()
        scorer0 = get_scorer(self.scoring)  # a bad name fails here, before any fitting
        training = prepare(
            X, y, sample_weight, validator=self, class_weight=self.class_weight,
            dtype=self.dtype, device=self.device, verbose=self.verbose, reducer=reducer,
        )  # fmt: skip
        classes = training.classes
        folds = self._folds(training)
        spec = self._spec(training.n_features)
        spec = dataclasses.replace(spec, verbose=max(0, int(self.verbose) - 1))
        Cs = self._grid(spec, training, ratios)
        scorer = _scorer(scorer0, classes)

        def score(raw, y_index, weights):
            # The scorer reads the path point's predictions, not X: X stands in as a
            # placeholder of the held-out rows' length.
            kw = {} if weights is None else {"sample_weight": weights}
            held = _HeldOut(raw, classes)
            return scorer(held, np.zeros((len(y_index), 0)), classes[y_index], **kw)

        def on_fold(f, r):
            if self.verbose and training.reducer.rank == 0:
                what = "" if ratios[r] is None else f", l1_ratio {ratios[r]}"
                print(f"[LogisticRegressionCV] fold {f + 1}/{folds.n_folds}{what}: path done")

        paths = fitting.cross_validate(
            spec, training, folds, Cs, ratios, score,
            score_weights=self._score_weights(training, sample_weight), on_fold=on_fold,
        )  # fmt: skip
        self._set_cv_attributes(Cs, ratios, paths)
        self._finish(spec, training, Cs, ratios, paths)
        return self

    def _set_cv_attributes(self, Cs, ratios, paths) -> None:
        self.Cs_ = np.asarray(Cs, dtype=np.float64)
        self.l1_ratios_ = np.asarray(ratios)
        r, k = fitting.cv_choices(paths.scores, self.Cs_)[self.selection]
        self.C_ = float(self.Cs_[k])
        self.l1_ratio_ = (
            float(ratios[r]) if self.penalty == "elasticnet" else float(self.penalty == "l1")
        )
        self.scores_ = paths.scores
        self.coefs_paths_ = paths.coefs
        self.n_iter_ = paths.n_iter
        self._choice = (r, k)

    def _finish(self, spec, training, Cs, ratios, paths) -> None:
        r, k = self._choice
        coefs = torch.as_tensor(paths.coefs, dtype=training.dtype, device=training.device)
        n_iter = self.n_iter_
        if self.refit:
            warm = (coefs[:, r, k].mean(dim=0), training.classes)
            chosen = dataclasses.replace(spec, C=self.C_, l1_ratio=ratios[r])
            self._apply(fitting.fit(chosen, training, warm_start=warm))
        else:
            if self.selection == "min":  # scikit-learn: every fold's own best point
                best = paths.scores.reshape(len(paths.scores), -1).argmax(axis=1)
                rr, kk = np.unravel_index(best, paths.scores.shape[1:])
                block = torch.stack([coefs[f, rr[f], kk[f]] for f in range(len(best))])
                self.C_ = float(np.mean(self.Cs_[kk]))
                if self.penalty == "elasticnet":
                    self.l1_ratio_ = float(np.mean(np.asarray(ratios, dtype=float)[rr]))
            else:
                block = coefs[:, r, k]
            self.classes_ = training.classes
            self.set_coefficients(block.mean(dim=0))
        self.n_iter_ = n_iter

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Its path attributes (scores_, coefs_paths_) stay NumPy under array-API dispatch, as
        # scikit-learn's LogisticRegressionCV declares no array-API support either.
        tags.array_api_support = False
        return tags

    def _fitted_spec(self, n_features: int) -> fitting.FitSpec:
        """The refit's problem: the chosen ``C_`` (and ``l1_ratio_`` for elastic-net). Without
        a refit ``coef_`` averages the folds' solutions, which solve no one problem."""
        if not self.refit:
            raise ValueError(
                "refit=False: coef_ is the mean of the folds' coefficients, the solution of no "
                "single problem, so it has no covariance; fit with refit=True"
            )
        spec = self._spec(n_features)
        ratio = self.l1_ratio_ if self.penalty == "elasticnet" else spec.l1_ratio
        return dataclasses.replace(spec, C=self.C_, l1_ratio=ratio)

    def score(self, X, y, sample_weight=None):
        """``scoring`` (default ``"neg_log_loss"``) of the fitted model on ``(X, y)``, as
        scikit-learn's ``LogisticRegressionCV.score``."""
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        return get_scorer(self.scoring)(self, X, y, **kw)

    @available_if(lambda self: False)
    def partial_fit(self, X, y, classes=None, sample_weight=None, offset=None):
        """Not available: cross-validation needs all the rows."""
