"""The fitting engine: one path from a spec and prepared data to a fitted model.

``fit(spec, training)`` builds the penalty (:func:`~torchlogit.objective.make_penalty`) and the
averaged objective (:class:`~torchlogit.objective.LinearObjective`, summing through the
training set's reducer), chooses the solver (``"auto"``: :func:`~torchlogit.solvers.choose_solver`
on the problem's shape, penalty, sparsity and device) and drives it by its declared
:class:`~torchlogit.solvers.SolverCapabilities` — lookahead on streamed data, resume from a
checkpoint, data-parallel or not — never by its name. The coefficients are centred (softmax),
checked identical on every rank, and returned as a :class:`FitResult`; the engine warns when
the solver did not converge and when unpenalised data are separable.

In-memory, sparse, streamed and distributed data, ``l1_min_c``'s null model and the command
line all come through here; ``partial_fit`` through :func:`fit_online`.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from .. import solvers as _solvers
from ..objective import (
    FoldStackedLoss,
    FoldStackedObjective,
    LinearObjective,
    LookaheadObjective,
    hessian_dtype,
    make_loss,
    make_penalty,
)
from ._checkpoint import problem_key
from ._result import FitResult, centre_multinomial
from ._spec import check_penalty_scale
from ._threads import seed_of, threads


class SeparableDataWarning(ConvergenceWarning):
    """The training data are perfectly separable and no penalty bounds the coefficients."""


class NonFiniteModelError(ValueError):
    """The solver ended with NaN or infinite coefficients: no model is returned."""


#: The most memory a Hessian-building solver may ask for its ``(m p) x (m p)`` matrix. A fixed
#: cap rather than a share of free memory, so that every rank of a distributed fit (and every
#: rerun of a script) makes the same decision; 16 GiB is a Newton system of ~46k parameters in
#: float64, far past where ``"auto"`` stops choosing Newton (L-BFGS is faster there).
HESSIAN_MAX_BYTES = 16 << 30


def hessian_bytes(solver_cls, coef_shape, dtype, device="cpu") -> int | None:
    """Bytes of the full Hessian ``solver_cls`` builds for ``coef_shape`` on data of ``dtype``
    (held in ``objective.hessian_dtype``: float64 for float32 data); None when it builds
    none. A proximal Hessian solver (``"cd"``) builds it only on a working set of columns, so
    its size is not ``(m p)^2``: exempt (the declarations cannot say more yet)."""
    caps = solver_cls.capabilities
    if not caps.hessian or caps.proximal:
        return None
    m, p = coef_shape
    return (m * p) ** 2 * hessian_dtype(dtype, torch.device(device)).itemsize


def check_hessian_size(name: str, coef_shape, dtype) -> None:
    """Refuse a Hessian-building solver whose matrix would pass :data:`HESSIAN_MAX_BYTES`."""
    size = hessian_bytes(_solvers.get_solver(name), coef_shape, dtype)
    if size is None or size <= HESSIAN_MAX_BYTES:
        return
    m, p = coef_shape
    other = " or 'newton-cg'" if "newton-cg" in _solvers.SOLVERS else ""
    raise ValueError(
        f"solver {name!r} builds the Hessian matrix of the {m * p} coefficients "
        f"({m} x {p}): {size / 2**30:,.1f} GiB in {hessian_dtype(dtype, torch.device('cpu'))}, "
        "over the limit of "
        f"{HESSIAN_MAX_BYTES / 2**30:g} GiB; use solver='lbfgs'{other} (memory linear in "
        "the number of coefficients)"
    )


def check_finite_coef(coef: torch.Tensor, solver: str, n_iter: int, dtype) -> None:
    """Refuse a non-finite iterate: a NaN model would predict nothing yet look fitted."""
    if bool(torch.isfinite(coef).all()):
        return
    raise NonFiniteModelError(
        f"solver {solver!r} ended with non-finite coefficients (NaN or infinity) after "
        f"{n_iter} iterations; no model was produced. The data, weights or offsets may hold "
        f"values too large for {dtype} (scale them, e.g. sklearn.preprocessing.StandardScaler),"
        " or the step size is too large; try solver='lbfgs' or a lower C"
    )


def check_solver(solver: str, *, options=None, distributed: bool = False) -> None:
    """Before any data are read: ``solver`` exists, accepts ``options`` and, for a
    ``distributed`` fit, runs data-parallel (``capabilities.distributed``). ``"auto"``
    always can."""
    solver = _solvers.resolve_alias(solver)
    if solver == "auto":
        return
    cls = _solvers.get_solver(solver)
    cls(**(options or {}))  # the solver validates its own options
    if distributed and not cls.capabilities.distributed:
        # Mini-batch solvers step on one rank's batch at a time: nothing to all-reduce, so the
        # ranks would drift apart. Every rank has the same parameters, so every rank stops here.
        kind = "a mini-batch solver and " if cls.capabilities.minibatch else ""
        raise ValueError(
            f"solver={solver!r} is {kind}does not run data-parallel; use a full-batch solver "
            f"('auto', {', '.join(map(repr, _able('distributed')))}) inside a process group, "
            "or pass distributed=False for a local fit"
        )


def resolve_tol(tol: float | None, solver: str, requested: str | None = None) -> float:
    """``tol``, or the solver's declared ``default_tol`` when ``tol`` is None.

    ``requested``: the name the user asked for. Under a scikit-learn name whose ``tol`` is not
    a gradient bound (``sag``, ``saga``, ``liblinear``: see ``solvers.SolverAlias``) the exact
    solver that runs stops at ``min(tol, default_tol)``, never looser than its own "solved".
    """
    default = float(_solvers.get_solver(solver).default_tol)
    if tol is None:
        return default
    alias = _solvers.SKLEARN_SOLVERS.get(requested)
    if alias is not None and not alias.gradient_tol:
        return min(float(tol), default)
    return float(tol)


def _able(capability: str) -> list[str]:
    """The registered solvers that declare ``capability``."""
    return sorted(n for n, c in _solvers.SOLVERS.items() if getattr(c.capabilities, capability))


def build_penalty(spec, training, *, weight_sum: float | None = None):
    """The spec's penalty on the averaged objective (strengths over ``C S``)."""
    weight_sum = training.weight_sum if weight_sum is None else weight_sum
    check_penalty_scale(spec, weight_sum, training.dtype)
    extra = {}
    if spec.lower_bounds is not None:
        extra["lower_bounds"] = spec.lower_bounds
    if spec.upper_bounds is not None:
        extra["upper_bounds"] = spec.upper_bounds
    return make_penalty(
        spec.penalty,
        C=spec.C,
        l1_ratio=spec.l1_ratio,
        weight_sum=weight_sum,
        n_features=training.n_features,
        factor=spec.penalty_factor,
        dtype=training.dtype,
        device=training.device,
        **extra,
    )


def build_objective(spec, training, penalty) -> LinearObjective:
    """The averaged objective; the folds' sum on stacked folds (``data.stacked_folds``)."""
    reducer = training.reducer
    loss, kind = make_loss(len(training.classes)), LinearObjective
    if getattr(training.data, "stacked_folds", 0):
        loss, kind = FoldStackedLoss(loss, training.data.stacked_folds), FoldStackedObjective
    return kind(
        loss,
        training.data,
        penalty,
        fit_intercept=spec.fit_intercept,
        n_features=training.n_features,
        reduce=reducer.all_reduce_sum if training.distributed else None,
    )


def choose(spec, training, objective, penalty) -> str:
    """The solver's name: the spec's (a scikit-learn name resolved through
    :data:`~torchlogit.solvers.SKLEARN_SOLVERS`), or ``"auto"``'s choice for this problem."""
    name = _solvers.resolve_alias(spec.solver, n_classes=len(training.classes))
    if name != "auto":
        return name
    m, p = objective.coef_shape
    name = _solvers.choose_solver(
        n_samples=training.n_samples,
        n_parameters=m * p,
        penalty=penalty,
        sparse=training.sparse,
        device=training.device,
    )
    size = hessian_bytes(
        _solvers.get_solver(name), objective.coef_shape, training.dtype, training.device
    )
    if size is not None and size > HESSIAN_MAX_BYTES:  # never past the cap: no matrix then
        name = "fista" if not penalty.is_smooth else "lbfgs"
    return name


def initial_coef(shape, training, warm_start=None, penalty=None) -> torch.Tensor:
    """Zeros, or ``warm_start = (coef, classes)`` when its shape and classes match.

    A warm start must lie inside the penalty's box (``lower_bounds`` / ``upper_bounds``):
    one outside it is an error (``penalty.check_feasible``), not silently projected. The zero
    start is projected onto the box by the solvers themselves.
    """
    coef0 = torch.zeros(*shape, dtype=training.dtype, device=training.device)
    if warm_start is not None:
        coef, classes = warm_start
        if tuple(coef.shape) == tuple(shape) and np.array_equal(classes, training.classes):
            coef0.copy_(coef.to(device=training.device, dtype=training.dtype))
            if penalty is not None:
                penalty.check_feasible(coef0)
    return coef0


def _open_checkpoint(spec, training, objective, name: str, caps):
    """``(checkpoint, resume state or None)`` for ``spec.checkpoint_dir``."""
    ckpt = _solvers.Checkpoint(spec.checkpoint_dir, problem_key(spec, training, objective, name))
    resume = ckpt.load()
    if resume is not None and not caps.resume:
        warnings.warn(
            f"solver {name!r} cannot continue from a checkpoint; starting afresh",
            UserWarning,
            stacklevel=4,
        )
        resume = None
    elif resume is None and ckpt.stored_meta() is not None:
        warnings.warn(
            f"{ckpt.path} belongs to another problem (data, penalty or solver differ); "
            "starting afresh and overwriting it",
            UserWarning,
            stacklevel=4,
        )
    return ckpt, resume


def _stream_progress(data, max_iter: int, start: int):
    def progress(it, coef, history):
        data.progress_label = f"iteration {it + 1} of at most {max_iter}"
        return False

    progress(start, None, None)
    return progress


def fit(spec, training, *, warm_start=None) -> FitResult:
    """Fit ``spec`` on the prepared ``training`` set (every rank calls it with its share)."""
    reducer = training.reducer
    check_solver(spec.solver, options=spec.solver_options, distributed=training.distributed)
    bounded = spec.lower_bounds is not None or spec.upper_bounds is not None
    if bounded and not _able("bounds"):
        raise ValueError(
            "lower_bounds / upper_bounds need a solver that declares capabilities.bounds; "
            "no registered solver does"
        )
    penalty = build_penalty(spec, training)
    objective = build_objective(spec, training, penalty)
    name = choose(spec, training, objective, penalty)
    check_hessian_size(name, objective.coef_shape, training.dtype)
    solver_cls = _solvers.get_solver(name)
    caps = solver_cls.capabilities
    _solvers.check_solver_objective(solver_cls, objective, penalty)
    check_solver(name, options=spec.solver_options, distributed=training.distributed)
    for needed, kind, what in (
        (training.streamed, "streamed", "run on streamed data"),
        (training.sparse, "sparse", "run on sparse X"),
        (bounded, "bounds", "handle lower_bounds / upper_bounds"),
    ):
        if needed and not getattr(caps, kind):
            raise ValueError(f"solver {name!r} does not {what}; use one of {_able(kind)}")
    coef0 = initial_coef(objective.coef_shape, training, warm_start, penalty)
    bytes0, calls0 = reducer.n_bytes, reducer.n_reductions
    sizes0 = dict(reducer.payload_counts)
    kwargs = dict(spec.solver_options or {})
    if spec.random_state is not None and "random_state" in _solvers.solver_option_names(solver_cls):
        kwargs.setdefault("random_state", seed_of(spec.random_state))
    resume = None
    if spec.checkpoint_dir is not None:
        kwargs["checkpoint"], resume = _open_checkpoint(spec, training, objective, name, caps)
    solved = objective
    if training.streamed:
        start = resume.n_iter if resume else 0
        kwargs.setdefault("callback", _stream_progress(training.data, spec.max_iter, start))
        if caps.lookahead:  # the line search's pass also computes (g, H): one pass per step
            solved = LookaheadObjective(objective)
    verbose = spec.verbose if reducer.rank == 0 else 0
    tol = resolve_tol(spec.tol, name, spec.solver)
    solver = solver_cls(tol=tol, max_iter=spec.max_iter, verbose=verbose, **kwargs)
    try:
        with threads(spec.n_jobs, training.device):
            result = solver.solve(solved, coef0, **({} if resume is None else {"resume": resume}))
    except torch.linalg.LinAlgError as exc:  # eigh / Cholesky on an overflowed matrix
        raise ValueError(
            f"solver {name!r} failed in its linear algebra ({str(exc).splitlines()[0]}): the "
            f"features, sample weights, class weights or offsets hold values too large for "
            f"{training.dtype}, or are degenerate. Scale them (e.g. "
            "sklearn.preprocessing.StandardScaler), or use solver='lbfgs'"
        ) from exc
    check_finite_coef(result.coef, name, int(result.n_iter), training.dtype)
    info = None
    if training.distributed:  # what the solver exchanged: one payload per pass
        sizes = {k: v - sizes0.get(k, 0) for k, v in reducer.payload_counts.items()}
        info = {
            "world_size": reducer.world_size,
            "rows_per_rank": list(training.rows_per_rank),
            "bytes_reduced": reducer.n_bytes - bytes0,
            "n_reductions": reducer.n_reductions - calls0,
            "payload_counts": {k: v for k, v in sizes.items() if v > 0},
        }
    coef = result.coef.detach().clone()
    if objective.loss.shift_invariant:  # each fold's block of stacked folds on its own
        groups = getattr(objective.loss, "shift_groups", 1)
        coef = centre_multinomial(coef, centred_entries(penalty, coef), groups)
    coef, diff = reducer.same_tensor(coef, "the fitted coefficients")
    if info is not None:
        info["max_rank_difference"] = diff
    out = FitResult.from_solver(
        result,
        coef=coef,
        training=training,
        loss=objective.loss,
        solver=name,
        distributed_info=info,
        n_rows=training.n_samples if training.streamed else None,
        passes=list(getattr(training.data, "passes", [])),
    )
    out.tol = tol
    warn_if_not_converged(out, tol, requested=spec.solver)
    warn_if_separable(spec, objective, training, coef)
    return out


def centred_entries(penalty, coef: torch.Tensor) -> torch.Tensor:
    """Where the multinomial coefficients are centred over the classes (every solver alike).

    The softmax is invariant to a shift ``c_j`` common to the ``K`` rows of column ``j``.
    Unpenalised columns (the intercept, ``f_j = 0``) are centred by convention. Under a
    smooth penalty (L2 or none, no box) every column is: ``sum_k (W_kj - c_j)^2`` is smallest
    at ``c_j = mean_k W_kj``, so the exact optimum is centred and centring an approximate one
    only lowers the objective. With an L1 part or a box the optimum need not be centred.
    """
    if penalty.is_smooth:
        return torch.ones_like(coef, dtype=torch.bool)
    return penalty.unpenalized_mask(coef)


def warn_if_not_converged(result: FitResult, tol: float, requested: str | None = None) -> None:
    """A ``ConvergenceWarning``; under a scikit-learn solver name (``requested``) it begins
    with scikit-learn's own sentence for that solver."""
    if result.converged:
        return
    alias = _solvers.SKLEARN_SOLVERS.get(requested)
    if alias is not None and alias.precision_is_convergence and result.at_precision:
        return  # scikit-learn's meaning of converged under this name (SolverAlias)
    # scikit-learn's own sentence last: code that filters on it keeps working
    tail = f" ({alias.not_converged.format(n_iter=result.n_iter)})" if alias else ""
    g = result.history["gradient_norm"]
    gnorm = g[-1] if g else None
    # The stochastic solvers record no gradient norm (NaN): say only why they stopped.
    detail = (
        f"; max|grad| = {gnorm:.3g} > tol = {tol:g}"
        if gnorm is not None and not np.isnan(gnorm)
        else ""
    )
    warnings.warn(
        f"solver {result.solver!r} did not converge after {result.n_iter} iterations "
        f"({result.message}{detail}). "
        "Increase max_iter, scale the data (e.g. sklearn.preprocessing.StandardScaler),"
        " or add a penalty / lower C." + tail,
        ConvergenceWarning,
        stacklevel=4,
    )


def min_margin(objective, training, coef: torch.Tensor) -> float:
    """``min_i`` over rows of positive weight (every rank) of the true class's logit minus
    the largest other logit (two classes: ``(2 y_i - 1) z_i``); ``inf`` when no row counts."""
    worst = torch.tensor([-float("inf")], dtype=torch.float64)
    for batch in training.data.batches():
        raw = objective.batch_raw(batch, coef)  # X W^T + b + offset
        if raw.shape[1] == 1:
            margin = (batch.y.to(raw.dtype) * 2 - 1) * raw[:, 0]
        else:
            true = raw.gather(1, batch.y.unsqueeze(1))[:, 0]
            other = raw.scatter(1, batch.y.unsqueeze(1), float("-inf")).amax(dim=1)
            margin = true - other
        keep = batch.sample_weight > 0
        if bool(keep.any()):  # a chunk whose rows all have weight 0 says nothing
            worst = torch.maximum(worst, -margin[keep].min().double().cpu().reshape(1))
    return -float(training.reducer.all_reduce_max(worst)[0])


def warn_if_separable(spec, objective, training, coef) -> None:
    """Warn when no penalty is used and every training row is classified with a margin."""
    if spec.penalized:
        return
    margin = min_margin(objective, training, coef)
    if np.isfinite(margin) and margin > 0:
        warnings.warn(
            "the training data are perfectly separable and penalty=None: the unpenalised "
            "optimum lies at infinity, and the finite coefficients returned depend on tol "
            "and max_iter. Use penalty='l2' (any finite C) for a unique solution.",
            SeparableDataWarning,
            stacklevel=4,
        )
