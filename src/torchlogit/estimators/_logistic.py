"""The scikit-learn-facing ``LogisticRegression``: it orchestrates, the numerics live below."""

from __future__ import annotations

import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import distributed as _distributed
from .. import solvers as _solvers
from ..data import (
    InMemoryData,
    StreamingSource,
    class_weight_per_sample,
    encode_labels,
    is_sparse_design,
    resolve_device,
    validate_sample_weight,
    validate_X,
    validate_X_y,
)
from ..objective import ElasticNetPenalty, LinearObjective, make_loss
from ..solvers._base import check_solver_options


def _validate_penalty_factor(penalty_factor, n_features: int):
    """``penalty_factor`` as a float64 array of shape ``(d,)`` (finite, >= 0), or None."""
    if penalty_factor is None:
        return None
    if isinstance(penalty_factor, torch.Tensor):
        penalty_factor = penalty_factor.detach().cpu().numpy()
    try:
        factor = np.array(penalty_factor, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"penalty_factor must be an array of numbers: {exc}") from None
    if factor.shape != (n_features,):
        raise ValueError(
            f"penalty_factor must have shape ({n_features},), one factor per feature of X, "
            f"got shape {factor.shape}"
        )
    bad = np.flatnonzero(~(np.isfinite(factor) & (factor >= 0)))
    if bad.size:
        j = int(bad[0])
        raise ValueError(
            f"penalty_factor must be finite and >= 0; feature {j} has {factor[j]!r}"
            + (f" ({bad.size} bad entries in all)" if bad.size > 1 else "")
        )
    return factor


def _data_dtype_device(data) -> tuple[torch.dtype, torch.device]:
    """The compute dtype and device of ``data``, without a pass over a streamed source.

    Streamed data (:class:`~torchlogit.data.StreamingData`, and the distributed wrapper that
    forwards to it) carry them as attributes; in-memory data hold their one batch, so reading
    it costs nothing. Only data exposing neither are asked for their first batch.
    """
    dtype, device = getattr(data, "dtype", None), getattr(data, "device", None)
    if dtype is None or device is None:
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = next(iter(data.batches()))
        dtype, device = batch.X.dtype, batch.X.device
    return dtype, torch.device(device)


class SeparableDataWarning(ConvergenceWarning):
    """The training data are perfectly separable and no penalty bounds the coefficients."""


class LogisticRegression(ClassifierMixin, BaseEstimator):
    """Logistic regression with scikit-learn's objective, solved on PyTorch (CPU or CUDA).

    The fitted coefficients minimise, for sample weights ``s_i`` (1 when not given, times the
    class weight of ``y_i``) and logits ``z_i = W x_i + b``,

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
    def _check_params(self):
        self._validate_params()
        if self.solver != "auto":  # fail before reading any data
            check_solver_options(_solvers.get_solver(self.solver), self.solver_options)
        if self.penalty == "elasticnet" and self.l1_ratio is None:
            raise ValueError("l1_ratio must be given (a float in [0, 1]) with penalty='elasticnet'")
        if self.penalty != "elasticnet" and self.l1_ratio is not None:
            raise ValueError(
                f"l1_ratio={self.l1_ratio!r} is only used with penalty='elasticnet', "
                f"got penalty={self.penalty!r}"
            )

    def _penalty_strengths(self, weight_sum: float) -> tuple[float, float]:
        """``(l1, l2)`` on the averaged objective: scikit-learn's ``r(W)`` over ``C S``."""
        if self.penalty is None:
            return 0.0, 0.0
        scale = 1.0 / (self.C * weight_sum)
        ratio = {"l2": 0.0, "l1": 1.0}.get(self.penalty, self.l1_ratio)
        return ratio * scale, (1.0 - ratio) * scale

    def _make_penalty(self, weight_sum: float, n_features: int, dtype, device):
        l1, l2 = self._penalty_strengths(weight_sum)
        factor = _validate_penalty_factor(self.penalty_factor, n_features)
        if factor is not None:
            factor = torch.as_tensor(factor, dtype=dtype, device=device)
        return ElasticNetPenalty(l1, l2, n_features, factor=factor)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, sample_weight=None):
        """Fit the model to ``X`` (n, d) and labels ``y`` (n,), with optional sample weights.

        ``X`` may instead be a streaming source (:class:`~torchlogit.data.ParquetSource`,
        ``CSVSource``, ``NumpySource``, ``ArraySource``) holding labels and weights; the
        full-batch solvers then sum over its chunks and reach the in-memory fit's optimum.
        """
        self._check_params()
        if _distributed.is_active(self.distributed):
            return _distributed.fit_distributed(self, X, y, sample_weight)
        if isinstance(X, StreamingSource):
            from ._streaming import fit_source

            return fit_source(self, X, y, sample_weight)
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        device = resolve_device(self.device, X)
        Xt, y_np, _ = validate_X_y(self, X, y, dtype=self.dtype, device=device)
        classes, y_index = encode_labels(y_np)
        sw = validate_sample_weight(sample_weight, Xt.shape[0])
        sw = sw * class_weight_per_sample(self.class_weight, classes, y_index, sw)
        if not np.any(sw > 0):
            raise ValueError("every sample has zero weight after applying class_weight")

        dtype = Xt.dtype
        data = InMemoryData(
            Xt,
            torch.from_numpy(y_index).to(device),
            torch.from_numpy(sw).to(device=device, dtype=dtype),
        )
        n_features = Xt.shape[1]
        penalty = self._make_penalty(data.weight_sum, n_features, dtype, device)
        objective = LinearObjective(
            make_loss(len(classes)),
            data,
            penalty,
            fit_intercept=self.fit_intercept,
            n_features=n_features,
        )
        self._run_solver(
            objective, penalty, classes, n_samples=Xt.shape[0], sparse=is_sparse_design(Xt)
        )
        self._warn_if_separable(objective, data)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of ``solver="sgd"`` (or ``"adam"``) on ``(X, y)``, for online learning.

        ``classes`` (every label that will ever appear) is required on the first call. The
        penalty uses the total sample weight seen so far.
        """
        from ._streaming import partial_fit

        return partial_fit(self, X, y, classes=classes, sample_weight=sample_weight)

    def _initial_coef(self, objective, classes, dtype, device) -> torch.Tensor:
        m, p = objective.coef_shape
        coef0 = torch.zeros(m, p, dtype=dtype, device=device)
        if self.warm_start and hasattr(self, "_coef"):
            same = (
                self._coef.shape == coef0.shape
                and len(self.classes_) == len(classes)
                and np.array_equal(self.classes_, classes)
            )
            if same:
                coef0.copy_(self._coef.to(device=device, dtype=dtype))
        return coef0

    def _run_solver(self, objective, penalty, classes, *, n_samples: int, sparse: bool):
        m, p = objective.coef_shape
        dtype, device = _data_dtype_device(objective.data)
        name = self.solver
        if name == "auto":
            name = _solvers.choose_solver(
                n_samples=n_samples,
                n_parameters=m * p,
                penalty=penalty,
                sparse=sparse,
                device=device,
            )
        solver_cls = _solvers.get_solver(name)
        _solvers.check_solver_objective(solver_cls, objective, penalty)
        check_solver_options(solver_cls, self.solver_options)
        coef0 = self._initial_coef(objective, classes, dtype, device)
        from ._streaming import solver_extras

        kwargs, resume, solved = solver_extras(self, objective, classes, name)
        solver = solver_cls(tol=self.tol, max_iter=self.max_iter, verbose=self.verbose, **kwargs)
        if resume is None:
            result = solver.solve(solved, coef0)
        else:
            result = solver.solve(solved, coef0, resume=resume)
        self._set_fitted(result, objective, classes, name)
        return result

    def _set_fitted(self, result, objective, classes, solver_name):
        coef = result.coef.detach().clone()
        if coef.shape[0] > 1:
            # The softmax is invariant to a shift common to all classes: report the
            # representative whose unpenalised columns sum to zero over the classes.
            free = objective.penalty.unpenalized_mask(coef)
            coef = torch.where(free, coef - coef.mean(dim=0, keepdim=True), coef)
        self._coef = coef
        self._loss = objective.loss
        self.classes_ = classes
        d = objective.n_features
        coef_np = coef.cpu().numpy()
        self.coef_ = np.ascontiguousarray(coef_np[:, :d])
        self.intercept_ = (
            coef_np[:, d].copy()
            if objective.fit_intercept
            else np.zeros(coef.shape[0], coef_np.dtype)
        )
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        self.history_ = result.history.as_dict()
        self.n_passes_ = result.n_passes
        self.solver_ = solver_name
        self.converged_ = result.converged
        if not result.converged:
            gnorm = self.history_["gradient_norm"][-1] if self.history_["gradient_norm"] else None
            # The stochastic solvers record no gradient norm (NaN): say only why they stopped.
            detail = (
                f"; max|grad| = {gnorm:.3g} > tol = {self.tol:g}"
                if gnorm is not None and not np.isnan(gnorm)
                else ""
            )
            warnings.warn(
                f"solver {solver_name!r} did not converge after {result.n_iter} iterations "
                f"({result.message}{detail}). "
                "Increase max_iter, scale the data (e.g. sklearn.preprocessing.StandardScaler),"
                " or add a penalty / lower C.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _warn_if_separable(self, objective, data) -> None:
        """Warn when no penalty is used and every training sample is classified with margin."""
        if objective.penalty.l1 > 0 or objective.penalty.l2 > 0:  # penalty=None or C=inf
            return
        margins = []
        for batch in data.batches():
            raw = objective.raw_prediction(batch.X, self._coef)
            if raw.shape[1] == 1:
                sign = batch.y.to(raw.dtype) * 2 - 1
                margin = sign * raw[:, 0]
            else:
                true = raw.gather(1, batch.y.unsqueeze(1))[:, 0]
                other = raw.scatter(1, batch.y.unsqueeze(1), float("-inf")).amax(dim=1)
                margin = true - other
            keep = batch.sample_weight > 0
            if bool(keep.any()):  # a chunk whose rows all have weight 0 says nothing
                margins.append(margin[keep].min())
        if margins and float(torch.stack(margins).min()) > 0:
            warnings.warn(
                "the training data are perfectly separable and penalty=None: the unpenalised "
                "optimum lies at infinity, and the finite coefficients returned depend on tol "
                "and max_iter. Use penalty='l2' (any finite C) for a unique solution.",
                SeparableDataWarning,
                stacklevel=3,
            )

    # ------------------------------------------------------------------ predict
    def _raw(self, X):
        check_is_fitted(self, "_coef")
        device = self._coef.device
        Xt, was_tensor = validate_X(self, X, reset=False, dtype=self._coef.dtype, device=device)
        d = self.n_features_in_
        raw = Xt @ self._coef[:, :d].T
        if self._coef.shape[1] > d:
            raw = raw + self._coef[:, d]
        return raw, (X.device if was_tensor else None)

    @staticmethod
    def _out(t: torch.Tensor, device):
        return t.to(device) if device is not None else t.cpu().numpy()

    def decision_function(self, X):
        """Logits: ``(n,)`` for two classes (positive class ``classes_[1]``), else ``(n, K)``."""
        raw, dev = self._raw(X)
        return self._out(raw[:, 0] if raw.shape[1] == 1 else raw, dev)

    def predict_proba(self, X):
        """Class probabilities ``(n, K)``, from the logits (rows sum to 1)."""
        raw, dev = self._raw(X)
        return self._out(self._loss.predict_proba(raw), dev)

    def predict_log_proba(self, X):
        """Log-probabilities ``(n, K)`` via log-sigmoid / log-softmax (finite for any logit)."""
        raw, dev = self._raw(X)
        if raw.shape[1] == 1:
            z = raw[:, 0]
            out = torch.stack(
                [torch.nn.functional.logsigmoid(-z), torch.nn.functional.logsigmoid(z)], dim=1
            )
        else:
            out = torch.log_softmax(raw, dim=1)
        return self._out(out, dev)

    def predict(self, X):
        """The most probable class for each row."""
        raw, dev = self._raw(X)
        idx = (raw[:, 0] > 0).long() if raw.shape[1] == 1 else raw.argmax(dim=1)
        labels = self.classes_[idx.cpu().numpy()]
        if dev is not None and labels.dtype.kind in "iufb":
            return torch.as_tensor(labels, device=dev)
        return labels

    def score(self, X, y, sample_weight=None):
        """Mean accuracy (weighted when ``sample_weight`` is given)."""
        from sklearn.metrics import accuracy_score

        pred = self.predict(X)
        to_np = lambda a: a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a  # noqa: E731
        return accuracy_score(to_np(y), to_np(pred), sample_weight=to_np(sample_weight))

    # ------------------------------------------------------------------ files and torch
    def save(self, path, *, metadata=None):
        """Write the model to a safetensors file (no pickle); see :func:`torchlogit.io.save`."""
        from ..io import save

        save(self, path, metadata=metadata)

    def to_torch(self, dtype=torch.float32):
        """The fitted model as a :class:`torchlogit.nn.LogisticLayer` on the model's device,
        in ``dtype`` (float32 by default, as ``nn.Linear``; ``None``: the fitted dtype)."""
        from ..nn import LogisticLayer

        check_is_fitted(self, "_coef")
        return LogisticLayer.from_estimator(self, dtype=dtype, device=self._coef.device)

    def export_onnx(self, path, *, dtype=None):
        """Write an ONNX graph that outputs probabilities; see :func:`torchlogit.io.export_onnx`."""
        from ..io import export_onnx

        export_onnx(self, path, dtype=dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
