"""The scikit-learn-facing ``LogisticRegression``: it orchestrates, the numerics live below."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Hidden, Interval, StrOptions

from .. import distributed as _distributed
from .. import fitting
from ..data import prepare, prepare_batch, resolve_device
from ..fitting import SeparableDataWarning
from ._files import ModelFilesMixin
from ._inference import InferenceMixin
from ._namespace import follow_input_namespace, input_device, numpy_of
from ._predict import CoefficientsMixin

__all__ = ["LogisticRegression", "SeparableDataWarning"]


class LogisticRegression(
    InferenceMixin, CoefficientsMixin, ModelFilesMixin, ClassifierMixin, BaseEstimator
):
    """Logistic regression with scikit-learn's objective, solved on PyTorch (CPU or CUDA).

    The fitted coefficients minimise, for sample weights ``s_i`` (1 when not given, times the
    class weight of ``y_i``) and logits ``z_i = W x_i + b + o_i`` (``o_i``: the ``offset``
    given to ``fit``, else 0), subject to ``lower_bounds <= W <= upper_bounds`` when given,

    .. math::

        C \\sum_i s_i \\, \\mathrm{logloss}(y_i, z_i) + r(W),

    with ``r(W) = l1_ratio ‖W‖₁ + (1 - l1_ratio)/2 ‖W‖²`` (``l1_ratio=0``: L2, the default;
    ``1``: L1) and ``r = 0`` when ``C = np.inf``, as in scikit-learn >= 1.8. The
    intercept ``b`` is never penalised. Two classes use one logit and the sigmoid (``coef_``
    has shape ``(1, d)``, class ``classes_[1]`` is the positive one); ``K > 2`` classes use the
    full softmax over all ``K`` logits (``coef_`` is ``(K, d)``). This is exactly the objective
    of :class:`sklearn.linear_model.LogisticRegression`, so both give the same coefficients.

    Internally the objective is divided by ``C * sum_i s_i`` (same minimiser); ``tol`` bounds
    the largest absolute gradient entry of that averaged objective, which means the same thing
    on every device and dtype. ``history_`` records it per iteration.

    Every parameter of scikit-learn 1.9's ``LogisticRegression`` is accepted with its meaning,
    with scikit-learn's warnings and errors (``penalty`` deprecated, ``dual``, solver names).

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet"} or None, default="deprecated"
        Deprecated in scikit-learn 1.8 (a ``FutureWarning``, as there): use ``l1_ratio``
        and ``C``. Given, it chooses the penalty with scikit-learn 1.9's rules
        (:func:`torchlogit.fitting.resolve_penalty`; ``None`` ignores ``C``, with a warning).
    C : float, default=1.0
        Inverse regularisation strength; ``np.inf`` means no penalty.
    l1_ratio : float in [0, 1], default=0.0
        Elastic-net mixing ``rho`` of ``r(W)``: 0 is L2, 1 is L1, in between elastic-net.
    dual : bool, default=False
        Only ``False`` (torchlogit solves the primal); ``True`` is refused with
        scikit-learn's error, except with ``solver="liblinear"`` and L2, where scikit-learn
        accepts it: the primal then gives the same optimum.
    intercept_scaling : float > 0, default=1
        Accepted for compatibility; it changes nothing: torchlogit's intercept is never
        penalised (liblinear's ``intercept_scaling`` exists to weaken its penalty).
    random_state : int, RandomState or None, default=None
        Seeds every sampling: ``"sgd"`` / ``"adam"``'s batches and ``"newton"``'s row sample
        of the Hessian (``solver_options`` wins). ``None``: the fixed default samples. The
        optimum does not depend on it.
    n_jobs : int or None, default=None
        CPU threads torch uses during ``fit`` (``-1``: all cores); ignored on CUDA.
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
        and penalty (:func:`torchlogit.solvers.choose_solver`). scikit-learn's names are
        aliases (:data:`torchlogit.solvers.SKLEARN_SOLVERS`): ``"newton-cholesky"`` runs
        ``"newton"``; ``"liblinear"``, ``"sag"`` and ``"saga"`` run the exact solver for the
        penalty; each refuses what scikit-learn refuses under that name. ``solver_`` says
        what ran.
    tol : float or None, default=None
        Stop when ``max_j |grad_j| <= tol`` on the averaged objective; with an L1 part, the
        minimum-norm subgradient replaces the gradient (the KKT violation). ``None``: the
        solver's ``default_tol`` (1e-8 for ``"newton"``, ``"newton-cg"``, ``"cd"``: within
        1e-6 relative of the exact coefficients; 1e-4 for the others); ``tol_`` says which.
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
        The solver that ran (what ``"auto"`` or a scikit-learn name chose).
    tol_ : float
        The ``tol`` the solver ran with.
    distributed_info_ : dict
        After a data-parallel fit: ``world_size``, ``rows_per_rank``, the reductions the
        solver made and ``max_rank_difference``.
    n_rows_, passes_ : int, list of dict
        After ``fit(source)``: the rows in the source, and per pass over it ``rows``,
        ``seconds``, ``rows_per_second``, ``from_cache``.

    Outputs follow the input: NumPy in, NumPy out; a torch tensor in, a tensor out on the
    tensor's device. Under ``sklearn.config_context(array_api_dispatch=True)`` the fitted
    attributes do too, as scikit-learn's: ``coef_``, ``intercept_`` (and ``n_iter_``) in
    ``X``'s namespace and device, ``classes_`` in ``y``'s. ``coef_`` / ``intercept_`` may be
    written (predictions, warm starts and model files follow them); ``sparsify()`` /
    ``densify()`` as in scikit-learn.
    """

    _parameter_constraints: dict = {
        "penalty": [
            StrOptions({"l2", "l1", "elasticnet"}),
            None,
            Hidden(StrOptions({"deprecated"})),
        ],
        # C = inf means no penalty, as in scikit-learn >= 1.8 (its strengths 1/(C S) are 0).
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "penalty_factor": ["array-like", None],
        "lower_bounds": ["array-like", Real, None],
        "upper_bounds": ["array-like", Real, None],
        "dual": ["boolean"],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "solver": [str],
        "tol": [Interval(Real, 0, None, closed="left"), None],
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
        penalty="deprecated",
        *,
        C=1.0,
        l1_ratio=0.0,
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
        warm_start=False,
        device=None,
        dtype=None,
        verbose=0,
        n_jobs=None,
        checkpoint_dir=None,
        solver_options=None,
        distributed="auto",
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
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
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.checkpoint_dir = checkpoint_dir
        self.solver_options = solver_options
        self.distributed = distributed

    # ------------------------------------------------------------------ configuration
    def _check_params(self, *, distributed: bool = False):
        """Everything that can be checked before any data are read."""
        self._validate_params()
        kind, l1_ratio = fitting.resolve_penalty(self.penalty, self.C, self.l1_ratio, stacklevel=4)
        fitting.check_alias(self.solver, kind, dual=self.dual)
        fitting.check_solver(self.solver, options=self.solver_options, distributed=distributed)
        fitting.validate_bounds(self.lower_bounds, self.upper_bounds, None)

    def _spec(self, n_features: int, *, checkpoint_dir=None) -> fitting.FitSpec:
        """The problem this estimator's parameters define, for data with ``n_features``."""
        lower, upper = fitting.validate_bounds(self.lower_bounds, self.upper_bounds, n_features)
        # The kind these parameters choose (their warnings and errors came in _check_params;
        # a loaded model asks for its spec without a fit).
        kind, l1_ratio = fitting.effective_penalty(self.penalty, self.C, self.l1_ratio)
        return fitting.FitSpec(
            penalty=kind,
            C=self.C,
            l1_ratio=l1_ratio,
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
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )

    def _fitted_spec(self, n_features: int) -> fitting.FitSpec:
        """The problem the fitted coefficients solve (what inference differentiates): this
        estimator's parameters; a CV estimator substitutes the chosen ``C_``."""
        return self._spec(n_features)

    def _apply(self, result: fitting.FitResult) -> None:
        """Set the fitted attributes from the engine's result (the one place they are set)."""
        for name, value in result.attributes().items():
            setattr(self, name, value)
        self._loss = result.loss
        self._set_block(result.coef)

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
            warm = (self._refresh(), numpy_of(self.classes_))
        spec = self._spec(training.n_features, checkpoint_dir=checkpoint_dir)
        self._apply(fitting.fit(spec, training, warm_start=warm))
        follow_input_namespace(self, input_device(X), input_device(y))
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
            seen = numpy_of(self.classes_)
            if classes is not None and not np.array_equal(np.unique(classes), seen):
                raise ValueError(
                    f"classes={classes!r} differs from the classes seen before: {seen!r}"
                )
            classes = seen
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
        if not first:
            self._refresh()  # the user may have written coef_ / intercept_
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
        follow_input_namespace(self, input_device(X), input_device(y))
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # Every solver runs on torch: array-API dispatch with torch inputs keeps them there
        # (scikit-learn's own class declares it for solver="lbfgs" only).
        tags.array_api_support = True
        return tags
