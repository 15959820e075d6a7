"""The scikit-learn-facing ``LogisticRegression``: it orchestrates, the numerics live below."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import distributed as _distributed
from .. import fitting
from ..data import prepare, prepare_batch, resolve_device, validate_offset, validate_X
from ..fitting import SeparableDataWarning
from ..objective import make_loss
from ._files import ModelFilesMixin
from ._inference import InferenceMixin

__all__ = ["LogisticRegression", "SeparableDataWarning"]


class LogisticRegression(InferenceMixin, ModelFilesMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression with scikit-learn's objective, solved on PyTorch (CPU or CUDA).

    The fitted coefficients minimise, for sample weights ``s_i`` (1 when not given, times the
    class weight of ``y_i``) and logits ``z_i = W x_i + b + o_i`` (``o_i``: the ``offset``
    given to ``fit``, else 0), subject to ``lower_bounds <= W <= upper_bounds`` when given,

    .. math::

        C \\sum_i s_i \\, \\mathrm{logloss}(y_i, z_i) + r(W),

    with ``r = ½‖W‖²`` (``penalty="l2"``), ``‖W‖₁`` (``"l1"``),
    ``l1_ratio ‖W‖₁ + (1 - l1_ratio)/2 ‖W‖²`` (``"elasticnet"``) or ``0`` (``None``). The
    intercept ``b`` is never penalised. Two classes use one logit and the sigmoid (``coef_``
    has shape ``(1, d)``, class ``classes_[1]`` is the positive one); ``K > 2`` classes use the
    full softmax over all ``K`` logits (``coef_`` is ``(K, d)``). This is exactly the objective
    of :class:`sklearn.linear_model.LogisticRegression`, so both give the same coefficients.

    Internally the objective is divided by ``C * sum_i s_i`` (same minimiser); ``tol`` bounds
    the largest absolute gradient entry of that averaged objective, which means the same thing
    on every device and dtype. ``history_`` records it per iteration.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
    C : float, default=1.0
        Inverse regularisation strength (ignored when ``penalty=None``); ``np.inf`` means
        no penalty, as in scikit-learn >= 1.8.
    l1_ratio : float in [0, 1] or None
        Elastic-net mixing; only with ``penalty="elasticnet"``.
    penalty_factor : array-like of shape (d,) or None, default=None
        Per-feature weights ``f_j >= 0`` on the penalty (glmnet's ``penalty.factor``):
        ``r(W) = sum_j f_j (l1_ratio |W_j| + (1 - l1_ratio)/2 W_j^2)``; ``f_j = 0`` leaves
        feature ``j`` unpenalised. ``None`` means all ones (scikit-learn's objective).
    lower_bounds, upper_bounds : float, array-like of shape (d,) or None, default=None
        Box constraints ``lower_j <= W_kj <= upper_j`` on the coefficients (not the
        intercept); ``-inf`` / ``inf`` leave a side open. Solved exactly by the solvers that
        declare ``capabilities.bounds``; ``solver="auto"`` picks one.
    fit_intercept : bool, default=True
    class_weight : dict, "balanced" or None
        Multiplies each sample's weight by its class's weight (scikit-learn's convention).
    solver : {"auto", "newton", "lbfgs", ...}, default="auto"
        Any registered solver (:data:`torchlogit.solvers.SOLVERS`); ``"auto"`` picks by shape
        and penalty (:func:`torchlogit.solvers.choose_solver`).
    tol : float, default=1e-4
        Stop when ``max_j |grad_j| <= tol`` on the averaged objective; with an L1 part, the
        minimum-norm subgradient replaces the gradient (the KKT violation).
    max_iter : int, default=100
    warm_start : bool, default=False
        Start from the previous ``coef_`` / ``intercept_`` when shapes and classes agree.
    device : {"cpu", "cuda", "cuda:N", "auto"} or None, default=None
        Where to compute. ``None`` follows the input (a CUDA tensor computes on its GPU;
        NumPy / pandas on the CPU).
    dtype : {"float32", "float64"} or None, default=None
        ``None`` follows the input: float32 stays float32, anything else is float64.
    verbose : int, default=0
        Print one line per iteration when > 0 (and, for a streaming source, a progress bar
        per pass over the data).
    checkpoint_dir : str or path, optional
        Write the solver's state there after every iteration (one safetensors file, replaced
        atomically). A later ``fit`` of the same problem (same data, penalty, solver) with
        the same folder continues from it and reaches the same coefficients as one
        uninterrupted fit.
    solver_options : dict, optional
        Extra keyword arguments for the solver (e.g. ``batch_size``, ``eta0``, ``lr``,
        ``random_state`` for ``"sgd"`` / ``"adam"``; ``memory`` for ``"lbfgs"``).
    distributed : {"auto", True, False}, default="auto"
        Data-parallel fit over ``torch.distributed``: every rank calls ``fit`` on its own rows
        and gets the model of all the rows (:mod:`torchlogit.distributed`). ``"auto"``: when
        the default process group is initialised.

    Attributes
    ----------
    coef_ : ndarray of shape (1, d) or (K, d)
    intercept_ : ndarray of shape (1,) or (K,)
    classes_ : ndarray of shape (K,)
    n_iter_ : ndarray of shape (1,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str (pandas input with string column names)
    history_ : dict of lists
        Per iteration: ``objective`` (averaged), ``gradient_norm`` (max abs), ``step_size``,
        ``time`` (seconds since the solver started).
    solver_ : str
        The solver that ran (what ``"auto"`` chose).
    distributed_info_ : dict
        After a data-parallel fit: ``world_size``, ``rows_per_rank``, the reductions the
        solver made and ``max_rank_difference``.
    n_rows_, passes_ : int, list of dict
        After ``fit(source)``: the rows in the source, and per pass over it ``rows``,
        ``seconds``, ``rows_per_second``, ``from_cache``.

    Outputs follow the input: NumPy in, NumPy out; a torch tensor in, a tensor out on the
    tensor's device.
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        # C = inf means no penalty, as in scikit-learn >= 1.8 (its strengths 1/(C S) are 0).
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "penalty_factor": ["array-like", None],
        "lower_bounds": ["array-like", Real, None],
        "upper_bounds": ["array-like", Real, None],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [str],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "device": [str, torch.device, None],
        "dtype": [StrOptions({"float32", "float64"}), torch.dtype, type, None],
        "verbose": ["verbose"],
        "checkpoint_dir": [str, os.PathLike, None],
        "solver_options": [dict, None],
        "distributed": ["boolean", StrOptions({"auto"})],
    }

    def __init__(
        self,
        penalty="l2",
        *,
        C=1.0,
        l1_ratio=None,
        penalty_factor=None,
        lower_bounds=None,
        upper_bounds=None,
        fit_intercept=True,
        class_weight=None,
        solver="auto",
        tol=1e-4,
        max_iter=100,
        warm_start=False,
        device=None,
        dtype=None,
        verbose=0,
        checkpoint_dir=None,
        solver_options=None,
        distributed="auto",
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.solver_options = solver_options
        self.distributed = distributed

    # ------------------------------------------------------------------ configuration
    def _check_params(self, *, distributed: bool = False):
        """Everything that can be checked before any data are read."""
        self._validate_params()
        fitting.check_solver(self.solver, options=self.solver_options, distributed=distributed)
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be given (a float in [0, 1]) with penalty='elasticnet'")
        if self.penalty != "elasticnet" and self.l1_ratio is not None:
            raise ValueError(
                f"l1_ratio={self.l1_ratio!r} is only used with penalty='elasticnet', "
                f"got penalty={self.penalty!r}"
            )
        fitting.validate_bounds(self.lower_bounds, self.upper_bounds, None)

    def _spec(self, n_features: int, *, checkpoint_dir=None) -> fitting.FitSpec:
        """The problem this estimator's parameters define, for data with ``n_features``."""
        lower, upper = fitting.validate_bounds(self.lower_bounds, self.upper_bounds, n_features)
        return fitting.FitSpec(
            penalty=self.penalty,
            C=self.C,
            l1_ratio=self.l1_ratio,
            penalty_factor=fitting.validate_penalty_factor(self.penalty_factor, n_features),
            lower_bounds=lower,
            upper_bounds=upper,
            fit_intercept=self.fit_intercept,
            class_weight=self.class_weight,
            solver=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            solver_options=dict(self.solver_options or {}),
            verbose=self.verbose,
            checkpoint_dir=checkpoint_dir,
        )

    def _apply(self, result: fitting.FitResult) -> None:
        """Set the fitted attributes from the engine's result (the one place they are set)."""
        for name, value in result.attributes().items():
            setattr(self, name, value)
        self._coef = result.coef
        self._loss = result.loss

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None, offset=None):
        """Fit the model to ``X`` (n, d) and labels ``y`` (n,), with optional sample weights.

        ``X`` may instead be a streaming source (:class:`~torchlogit.data.ParquetSource`,
        ``CSVSource``, ``NumpySource``, ``ArraySource``) holding labels and weights; the
        full-batch solvers then sum over its chunks and reach the in-memory fit's optimum.

        ``offset`` (``(n,)`` for two classes, ``(n, K)`` for ``K > 2``): a fixed number added
        to each row's logits, ``z_i = W x_i + b + o_i`` (a source names its offset column).
        """
        reducer = _distributed.reducer_for(self.distributed)
        self._check_params(distributed=reducer is not None)
        checkpoint_dir = self.checkpoint_dir
        if reducer is not None and checkpoint_dir is not None:
            checkpoint_dir = _distributed.rank_checkpoint_dir(checkpoint_dir, reducer)
        training = prepare(
            X,
            y,
            sample_weight,
            validator=self,
            class_weight=self.class_weight,
            offset=offset,
            dtype=self.dtype,
            device=self.device,
            verbose=self.verbose,
            reducer=reducer,
        )
        warm = None
        if self.warm_start and hasattr(self, "_coef"):
            warm = (self._coef, self.classes_)
        spec = self._spec(training.n_features, checkpoint_dir=checkpoint_dir)
        self._apply(fitting.fit(spec, training, warm_start=warm))
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None, offset=None):
        """One epoch of ``solver="sgd"`` (or ``"adam"``) on ``(X, y)``, for online learning.

        ``classes`` (every label that will ever appear) is required on the first call. The
        penalty is scikit-learn's ``r(W) / (C S)`` with ``S`` the total sample weight seen
        so far, so the model tracks the fit on all the data seen
        (:func:`torchlogit.fitting.fit_online`). After ``fit`` it continues from the fitted
        model. ``class_weight="balanced"`` is computed on each call's batch.
        """
        self._check_params()
        first = not hasattr(self, "classes_")
        if first:
            if classes is None:
                raise ValueError("classes must be given on the first call to partial_fit")
            classes = np.unique(np.asarray(classes))
            if len(classes) < 2:
                raise ValueError(f"partial_fit needs at least 2 classes, got {classes!r}")
        else:
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(
                    f"classes={classes!r} differs from the classes seen before: {self.classes_!r}"
                )
            classes = self.classes_
        training = prepare_batch(
            X,
            y,
            sample_weight,
            classes=classes,
            validator=self,
            reset=first,
            class_weight=self.class_weight,
            offset=offset,
            dtype=self.dtype if first else self._coef.dtype,
            device=resolve_device(self.device, X) if first else self._coef.device,
        )
        state = {} if first else getattr(self, "_partial", {})
        if state.get("coef") is not getattr(self, "_coef", None):  # fit() ran since: afresh
            state = {}
        total = state.get("weight_sum", 0.0) + training.weight_sum
        if not total > 0:
            raise ValueError("every sample seen so far has zero weight")
        previous = None if first else (self._coef, state.get("solver", {}))
        spec = self._spec(training.n_features)
        result = fitting.fit_online(spec, training, weight_sum_seen=total, previous=previous)
        self._apply(result)
        n_calls = state.get("n_calls", 0) + 1
        self.n_iter_ = np.array([n_calls], dtype=np.int32)
        self._partial = {
            "weight_sum": total,
            "solver": result.solver_state,
            "n_calls": n_calls,
            "coef": self._coef,
        }
        return self

    # ------------------------------------------------------------------ the coefficient block
    @property
    def coef_tensor_(self) -> torch.Tensor:
        """The fitted ``(m, p)`` coefficient tensor on the model's device and dtype: ``coef_``
        with the intercept as the last column when ``fit_intercept`` (what the predictions,
        the model files and :meth:`to_torch` use)."""
        check_is_fitted(self, "_coef")
        return self._coef

    def set_coefficients(self, coef: torch.Tensor, *, history=None):
        """Make this estimator predict with ``coef`` (``(m, p)``, as :attr:`coef_tensor_`);
        ``classes_`` and ``n_features_in_`` must be set. Used when a model file is loaded."""
        self._coef = coef
        self._loss = make_loss(len(self.classes_))
        for name, value in fitting.coefficient_attributes(coef, self.n_features_in_).items():
            setattr(self, name, value)
        if history is not None:
            self.history_ = history
        return self

    # ------------------------------------------------------------------ predict
    def _raw(self, X, offset=None):
        check_is_fitted(self, "_coef")
        device = self._coef.device
        Xt, was_tensor = validate_X(self, X, reset=False, dtype=self._coef.dtype, device=device)
        d = self.n_features_in_
        raw = Xt @ self._coef[:, :d].T
        if self._coef.shape[1] > d:
            raw = raw + self._coef[:, d]
        if offset is not None:
            m = self._coef.shape[0]
            raw = raw + validate_offset(offset, raw.shape[0], m, dtype=raw.dtype, device=device)
        return raw, (X.device if was_tensor else None)

    @staticmethod
    def _out(t: torch.Tensor, device):
        return t.to(device) if device is not None else t.cpu().numpy()

    def decision_function(self, X, offset=None):
        """Logits ``X W^T + b (+ offset)``: ``(n,)`` for two classes (positive class
        ``classes_[1]``), else ``(n, K)``."""
        raw, dev = self._raw(X, offset)
        return self._out(raw[:, 0] if raw.shape[1] == 1 else raw, dev)

    def predict_proba(self, X, offset=None):
        """Class probabilities ``(n, K)``, from the logits (rows sum to 1)."""
        raw, dev = self._raw(X, offset)
        return self._out(self._loss.predict_proba(raw), dev)

    def predict_log_proba(self, X, offset=None):
        """Log-probabilities ``(n, K)`` via log-sigmoid / log-softmax (finite for any logit)."""
        raw, dev = self._raw(X, offset)
        if raw.shape[1] == 1:
            z = raw[:, 0]
            out = torch.stack(
                [torch.nn.functional.logsigmoid(-z), torch.nn.functional.logsigmoid(z)], dim=1
            )
        else:
            out = torch.log_softmax(raw, dim=1)
        return self._out(out, dev)

    def predict(self, X, offset=None):
        """The most probable class for each row."""
        raw, dev = self._raw(X, offset)
        idx = (raw[:, 0] > 0).long() if raw.shape[1] == 1 else raw.argmax(dim=1)
        labels = self.classes_[idx.cpu().numpy()]
        if dev is not None and labels.dtype.kind in "iufb":
            return torch.as_tensor(labels, device=dev)
        return labels

    def score(self, X, y, sample_weight=None, offset=None):
        """Mean accuracy (weighted when ``sample_weight`` is given)."""
        from sklearn.metrics import accuracy_score

        pred = self.predict(X, offset=offset)
        to_np = lambda a: a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a  # noqa: E731
        return accuracy_score(to_np(y), to_np(pred), sample_weight=to_np(sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
