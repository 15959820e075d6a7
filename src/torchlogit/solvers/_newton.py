"""Newton's method: exact gradient, exact or row-sampled Hessian, Cholesky, line search.

Each iteration: the Hessian at the current point, built from its kept raw predictions (no
``X W^T``; from a fixed row sample when ``n >> p``, see :class:`NewtonSolver`), the direction
``d = -H^{-1} g`` from a Cholesky factorisation, an Armijo line search on
``f(coef + t d)`` evaluated from ``raw + t X d`` (one pass for ``X d``, none per trial), and
the gradient at the accepted point (one pass). With the exact Hessian it converges
quadratically near the optimum; with a sampled one linearly, at a rate set by the sample.

Fallbacks: when ``H`` does not factor (no penalty and collinear or separable data, fewer
weighted rows than parameters), a modified Newton step from an eigendecomposition that damps
the tiny eigenvalues and leaves out directions where the gradient is only rounding noise (see
:func:`newton_direction`); when the line search cannot decrease ``f``, the solver stops and
reports it.

Multinomial without a penalty on some columns: the full softmax is invariant to adding the
same vector to every class's coefficients of an unpenalised column, so ``H`` is singular along
``u_j = (1, ..., 1) (x) e_j``. The gradient is orthogonal to ``u_j``; adding ``c u_j u_j^T``
to ``H`` leaves the step on the other directions unchanged and gives it no component along
``u_j`` (the minimum-norm Newton step). Starting from zeros, the intercepts keep summing to 0.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch

from ..data import is_sparse_design
from ._adapter import line_objective, sampling_options
from ._base import SolverBase, SolverCapabilities, register_solver
from ._linesearch import armijo_on_line


def _null_space_regularizer(objective, coef: torch.Tensor) -> torch.Tensor | None:
    """``sum_j u_j u_j^T`` over the unpenalised columns when the loss is ``shift_invariant``
    (the multinomial's softmax), or None. A loss that stacks ``shift_groups`` models (the
    folds of a cross-validation) has one null direction per group and column: ``u_j`` is
    then taken within each group's rows."""
    m, p = coef.shape
    loss = getattr(objective, "loss", None)
    if not getattr(loss, "shift_invariant", False):
        return None
    free_cols = objective.penalty.unpenalized_mask(coef)[0]
    if not bool(free_cols.any()):
        return None
    groups = int(getattr(loss, "shift_groups", 1))
    U = torch.zeros(m * p, m * p, dtype=coef.dtype, device=coef.device)
    size = m // groups
    for g in range(groups):
        idx = (torch.arange(size, device=coef.device) + g * size) * p
        for j in torch.nonzero(free_cols).flatten().tolist():
            rows = idx + j
            U[rows.unsqueeze(1), rows.unsqueeze(0)] = 1.0
    return U


def newton_direction(
    H: torch.Tensor, g: torch.Tensor, negligible: float = 0.0, *, resolved: bool = True
) -> tuple[torch.Tensor, float]:
    """Solve ``H d = -g`` by Cholesky; when ``H`` does not factor, a modified Newton step.

    The fallback (``H`` singular to working precision: no penalty and collinear or separable
    data, or fewer rows with a positive weight than parameters) uses the eigendecomposition
    ``H = V diag(lambda) V^T`` and ``c = V^T g``. Eigenvalues below
    ``cutoff = lambda_max * n * eps`` are raised to ``cutoff`` (a Levenberg–Marquardt-like
    damping that keeps the step finite), and the components of those directions with
    ``|c_k| <= negligible`` are dropped: there the gradient is rounding noise (directions
    orthogonal to every row with a positive weight, say), and dividing noise by a tiny
    eigenvalue would put an arbitrary, row-order-dependent component into the coefficients.
    Starting from zeros, the coefficients then stay in the span of the weighted rows.

    Precision: the solve runs in ``H``'s dtype, the one it was accumulated in (float64 for
    float32 data, see :func:`~torchlogit.objective.hessian_dtype`), with ``g`` converted to it;
    the direction comes back in ``g``'s dtype. ``eps`` in the cut-off is that of ``H``'s dtype:
    the cut-off bounds the rounding of ``H``'s eigenvalues, which is that of the arithmetic
    that built and factors it, whatever the data's dtype. The noise in ``g`` is the caller's
    to bound, through ``negligible``.

    ``resolved=False`` (``g`` less precise than ``H``, and ``H``'s curvature not bounded below
    by the penalty at the noise level: float32 data without a penalty on collinear columns,
    whose float32 rounding leaves eigenvalues ``~ u^2 lambda_max`` that Cholesky factors):
    no Cholesky step, and the eigen-step also drops the components with
    ``|c_k| <= negligible`` where ``lambda_k <= negligible`` (where noise would move the
    coefficients by more than one unit).

    Returns the direction and the eigenvalue cut-off that was used (0 when Cholesky worked).
    """
    out_dtype = g.dtype
    g = g.to(H.dtype)
    if resolved:
        L, info = torch.linalg.cholesky_ex(H)
        if int(info) == 0:
            d = torch.cholesky_solve(-g.unsqueeze(1), L).squeeze(1)
            if bool(torch.isfinite(d).all()):
                return d.to(out_dtype), 0.0
    lam, V = torch.linalg.eigh(H)
    cutoff = float(lam[-1]) * H.shape[0] * torch.finfo(H.dtype).eps
    if not cutoff > 0.0:  # H is zero or negative definite: steepest descent
        return -g.to(out_dtype), float("inf")
    c = V.T @ g
    keep_all = max(cutoff, 0.0 if resolved else negligible)
    keep = (lam > keep_all) | (c.abs() > negligible)
    d = -(V[:, keep] @ (c[keep] / lam[keep].clamp(min=cutoff)))
    return d.to(out_dtype), cutoff


def negligible_gradient(tol: float, dtype: torch.dtype) -> float:
    """Gradient components below this are rounding noise to :func:`newton_direction`.

    ``1e-3 tol``: far below the stopping tolerance, they cannot stop convergence. A gradient
    summed in a low precision (float32: ``u = 2^-24``) carries noise of ``~ u`` times the sum of
    the per-row terms' magnitudes (order one on the averaged objective) in every component,
    orthogonal directions included: the floor ``NOISE_FLOOR_ULPS * eps`` keeps it out of the
    damped directions. float64 gradients keep ``1e-3 tol`` alone (as before the floor).
    """
    eps = torch.finfo(dtype).eps
    floor = NOISE_FLOOR_ULPS * eps if eps > torch.finfo(torch.float64).eps else 0.0
    return max(1e-3 * tol, floor)


def _curvature_floor(objective, coef: torch.Tensor) -> float:
    """The smallest curvature the smooth penalty adds to a feature's coefficient (0 when one
    is unpenalised or there is no such penalty): a lower bound on ``H``'s eigenvalues along
    the features (the intercepts' curvature comes from the data)."""
    penalty = getattr(objective, "penalty", None)
    d = getattr(penalty, "n_features", None)
    if not d:
        return 0.0
    return float(penalty.smooth_hessian_diagonal(coef)[:, :d].min())


@register_solver
class NewtonSolver(SolverBase):
    """Damped Newton with the exact gradient and an exact or row-sampled Hessian.

    Stopping rule: ``max_j |grad_j| <= tol`` on the averaged objective (the gradient is
    always exact, so the solution is the exact minimiser whatever Hessian steers the steps).

    Parameters
    ----------
    hessian_rows : "auto", int or None
        Rows of a fixed uniform sample the Hessian is built from while iterating. ``None``:
        all rows (classical Newton). ``"auto"``: :data:`HESSIAN_SAMPLE_ROWS` per column of
        ``coef`` (divided by ``(m + 1) / 2`` for ``m`` classes, as the Gram's cost grows with
        ``m (m + 1) / 2`` blocks) when the data have at least
        :data:`HESSIAN_SAMPLE_MIN_FACTOR` times as many rows, else all; times the data's
        ``pass_cost`` (a stream's pass decodes files: ~10 in-memory passes' time, so a larger
        sample hides behind it), at most ``1 / HESSIAN_SAMPLE_MIN_FACTOR`` of the rows. The
        streamed fit builds each Hessian in the line search's pass (``LookaheadObjective``).
        When a sampled step
        reduces ``max|grad|`` by less than :data:`SAMPLED_RATE_LIMIT`, or the line search
        fails, the sample grows (4x), up to all rows: the last iterations are then classical
        Newton with quadratic convergence.
    sample_stage : bool, default False
        With a row sample, first solve the problem restricted to it (exact Newton on the
        sample, to :data:`SAMPLE_STAGE_TOL`): its minimiser is within sampling error of the
        full one, reached for a fraction of a pass; the full-data iterations then start there
        with the sample's last Hessian. Fewer passes over X (B1: 9 instead of 12), but not
        faster on the 2-core benchmark machine, where the sample stage's many small
        operations cost as much as the passes they save: off by default.
    random_state : int or None, default None
        Seeds the row sample of the Hessian (and of the sample stage): each batch's sample is
        drawn from its own stream of this seed. ``None``: batch ``b``'s stream is seeded with
        ``b``, the same sample on every run. The estimator's ``random_state`` arrives here. A
        different seed gives a different sample and path, and the same minimiser (the
        gradient is exact).
    reuse_hessian : "auto" or bool
        Keep the Hessian for the next step after a full step that shrank ``max|grad|`` by
        :data:`REUSE_RATE` or more (a chord step: still a contraction, at the cost of
        two passes and no Gram); rebuilt as soon as a step does worse. ``"auto"``: when the
        Gram costs much more than a pass: ``rows/n * p * (m+1)/2 >= REUSE_MIN_GRAM_COST``
        (its flops over a pass's reads), on data of at least ``REUSE_MIN_SIZE`` entries.

    Passes over X per iteration: ``X d`` (for the line search, whose trial steps then cost no
    pass) and ``G^T X`` (the gradient at the accepted step); the Hessian reuses the raw
    predictions and reads ``hessian_rows`` rows.
    """

    name = "newton"
    # Quadratic (superlinear) convergence: 1e-8 costs 1-3 iterations more than 1e-4 and lands
    # within 1e-6 relative of the exact coefficients on scikit-learn's datasets (issue #12)
    default_tol = 1e-8
    requires = ("value_gradient_hessian", "value")
    penalty_requires = ("unpenalized_mask",)
    capabilities = SolverCapabilities(hessian=True, lookahead=True)

    def __init__(
        self,
        *,
        hessian_rows="auto",
        reuse_hessian="auto",
        sample_stage: bool = False,
        random_state: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if random_state is not None and not isinstance(random_state, numbers.Integral):
            raise ValueError(f"random_state must be an int or None, got {random_state!r}")
        self.random_state = None if random_state is None else int(random_state)
        self.hessian_rows = hessian_rows
        self.reuse_hessian = reuse_hessian
        self.sample_stage = bool(sample_stage)
        self._last_hessian = None

    def _reuse(self, fraction: float, coef) -> bool:
        if self.reuse_hessian != "auto":
            return bool(self.reuse_hessian)
        m, p = coef.shape
        n = getattr(self, "_data_rows", 0)
        if n * p < REUSE_MIN_SIZE:  # small data: iterations, not Grams, are the cost
            return False
        return fraction * p * (m + 1) / 2 >= REUSE_MIN_GRAM_COST

    def _initial_fraction(self, objective, coef) -> float:
        data = getattr(objective, "data", None)
        n = getattr(data, "n_samples", None)
        if self.hessian_rows is None or not n:
            return 1.0
        if self.hessian_rows == "auto":
            # Gram cost ~ rows p^2 m (m+1)/2 against a pass's ~ n p m: keep it near a pass
            m, p = coef.shape
            rows = HESSIAN_SAMPLE_ROWS * p * 2 / (m + 1)
            if n < HESSIAN_SAMPLE_MIN_FACTOR * rows:
                return 1.0
            # Data whose pass costs more (a stream decodes files) afford a larger sample,
            # hidden behind the reading, and converge faster per pass with it
            rows = min(rows * float(getattr(data, "pass_cost", 1.0)), n / HESSIAN_SAMPLE_MIN_FACTOR)
        else:
            rows = int(self.hessian_rows)
        return min(1.0, rows / n)

    def _sample_stage(self, objective, coef0, fraction):
        """Newton on the row sample (exact Hessian there) to :data:`SAMPLE_STAGE_TOL`.

        Returns ``(coef, its last Hessian)``, or ``(coef0, None)`` when there is no sample
        stage. Its passes are added to ``objective.n_passes`` as a share of the rows.
        """
        if not (self.sample_stage and fraction < 1.0 and hasattr(objective, "row_sample")):
            return coef0, None
        if any(is_sparse_design(b.X) for b in objective.data.batches()):
            return coef0, None
        sub = objective.row_sample(fraction, seed=self.random_state)
        stage = NewtonSolver(
            tol=max(self.tol, SAMPLE_STAGE_TOL),
            max_iter=self.max_iter,
            hessian_rows=None,
            reuse_hessian=self.reuse_hessian,
            sample_stage=False,
        )
        res = stage.solve(sub, coef0)
        objective.n_passes += sub.n_passes * sub.data.n_samples / max(objective._n_rows(), 1)
        return res.coef, stage._last_hessian

    def _start(self, objective, coef, state, resumed):
        # a resumed fit goes on with the sample it had grown to, as the uninterrupted one did
        fraction = float(state.get("fraction", self._initial_fraction(objective, coef)))
        # The seed of the row sample, for objectives that sample
        sampling = {} if self.random_state is None else {"seed": self.random_state}
        obj = line_objective(
            objective, with_hessian=True, hessian_options=sampling_options(fraction, **sampling)
        )
        self._data_rows = int(getattr(getattr(objective, "data", None), "n_samples", 0) or 0)
        if obj is not objective:  # plain methods: the Hessian comes with every point
            self._data_rows = 0
        H = None
        if not resumed:
            coef, H = self._sample_stage(objective, coef.clone(), fraction)
        pt = obj.point(coef.clone())
        return _NewtonIterate(
            pt=pt,
            value=float(pt.value),
            measure=float(pt.gradient.abs().max()),
            step=float(state.get("step", 0.0)),
            obj=obj,
            null_space=_null_space_regularizer(objective, coef),
            fraction=fraction,
            H=H,
            keep_hessian=H is not None,
            sampling=sampling,
            start_measure=float(pt.gradient.abs().max()),
        )

    def _step(self, objective, it) -> str | None:
        obj, pt, f, gnorm = it.obj, it.pt, it.value, it.measure
        eps = torch.finfo(pt.coef.dtype).eps
        while True:  # retried with a fresh / larger Hessian when a step fails
            fresh = it.H is None or not it.keep_hessian
            if fresh:
                H = obj.hessian(pt, row_fraction=it.fraction, **it.sampling)
                if it.null_space is not None:
                    H = H + it.null_space * (float(H.diagonal().mean()) or 1.0)
                it.H = self._last_hessian = H
            g = pt.gradient
            # Gradient components far below tol cannot stop convergence: rounding noise there.
            noise = negligible_gradient(self.tol, g.dtype)
            # A penalty curvature above one ulp of g's noise: its noise moves the coefficients
            # by at most ~ NOISE_FLOOR_ULPS units (exact Newton, no eigen-step, below that)
            resolved = (
                g.dtype == it.H.dtype
                or _curvature_floor(objective, pt.coef) > torch.finfo(g.dtype).eps
            )
            d, _ = newton_direction(it.H, g.reshape(-1), negligible=noise, resolved=resolved)
            d = d.reshape(g.shape)
            slope = float((g * d).sum())
            if slope >= 0:  # damping failed: fall back to steepest descent
                d, slope = -g, -float((g * g).sum())
            line = obj.line(pt, d)
            t, _ = armijo_on_line(line, f, slope, eps=eps)
            if t == 0.0 and (not fresh or it.fraction < 1.0):
                it.keep_hessian = False
                if fresh:
                    it.fraction = min(1.0, 4.0 * it.fraction)
                continue
            break
        it.step = t
        if t == 0.0:
            return self._no_decrease(pt.coef.dtype)
        it.pt = pt = line.point(t)
        it.value, gnorm_new = float(pt.value), float(pt.gradient.abs().max())
        # A full step that contracted the gradient well: keep this Hessian for the next
        # step. Otherwise rebuild it, and grow the sample when a fresh one did badly.
        good = t == 1.0 and gnorm_new <= SAMPLED_RATE_LIMIT * gnorm
        it.keep_hessian = (
            self._reuse(it.fraction, pt.coef) and t == 1.0 and gnorm_new <= REUSE_RATE * gnorm
        )
        if fresh and not good and t == 1.0 and it.fraction < 1.0:
            it.fraction = min(1.0, 4.0 * it.fraction)
        if fresh and t == 1.0 and it.fraction < 1.0 and self._exact_pays(it, gnorm, gnorm_new):
            it.fraction, it.keep_hessian = 1.0, False
        it.measure = gnorm_new
        return None

    def _exact_pays(self, it, gnorm: float, gnorm_new: float) -> bool:
        """After a full step on a fresh sampled Hessian: switch to the exact Hessian?

        Sampled steps contract ``g = max|grad|`` linearly near the optimum, by ``rate =
        gnorm_new / gnorm`` (the sample's error); exact Newton, in its quadratic region, as
        ``g+ ~ c g^2``. Switch when two exact steps (the second often a chord step on the kept
        Hessian) replace more than :data:`EXACT_SWITCH_ITERATIONS` sampled ones:

        - ``g <= EXACT_SWITCH_RELATIVE g_0`` (farther out exact steps contract no better:
          0.2-0.35 on I1 and B1 at ``g / g_0 ~ 0.05``) and ``g <= EXACT_SWITCH_FACTOR
          sqrt(tol)``, whence two exact steps reach ``c^3 EXACT_SWITCH_FACTOR^4 tol^2 <= tol``
          (``c`` ~ 10 on I1 and B1);
        - the sampled rate needs more than EXACT_SWITCH_ITERATIONS iterations to ``tol``
          (``log(tol / g) / log(rate)``) and the Gram (``p / GRAM_COLUMNS_PER_PASS`` passes'
          time) costs at most their two passes each;
        - two classes: the multinomial's ``m (m + 1) / 2`` Grams made 3 classes (200,000 x
          30, tol 1e-10) slower, 0.60 -> 0.75 s, for 8 iterations instead of 12.

        I1 (tol 1e-10): 10 iterations / 22 passes become 6 / 15. tol 1e-4: no switch on I1/B1.
        """
        if not 0.0 < gnorm_new < gnorm or gnorm_new <= self.tol:
            return False
        if gnorm_new > min(
            EXACT_SWITCH_RELATIVE * it.start_measure, EXACT_SWITCH_FACTOR * math.sqrt(self.tol)
        ):
            return False
        rate = gnorm_new / gnorm
        sampled = math.log(self.tol / gnorm_new) / math.log(rate)  # iterations still to go
        m, p = it.pt.coef.shape
        gram_passes = p / GRAM_COLUMNS_PER_PASS
        return m == 1 and sampled > EXACT_SWITCH_ITERATIONS and gram_passes <= 2 * sampled

    def _state(self, it) -> dict:
        return {"step": it.step, "fraction": it.fraction}


@dataclass
class _NewtonIterate:
    """Newton's iteration state: the point (with its raw predictions) and the Hessian kept."""

    pt: object  # Point
    value: float
    measure: float  # max |grad|
    step: float
    obj: object  # the point / line / Hessian interface
    null_space: torch.Tensor | None
    fraction: float  # share of rows the Hessian is built from
    H: torch.Tensor | None
    keep_hessian: bool
    sampling: dict  # {"seed": random_state} for hessian(), or {}
    start_measure: float = float("inf")  # max |grad| where this solve (or resume) started

    @property
    def coef(self) -> torch.Tensor:
        return self.pt.coef


# A gradient's rounding noise, in units of its dtype's eps (see negligible_gradient): the
# per-row terms of the averaged gradient are of order one; float32 sums over 5,000 rows
# showed components of 2e-7 (~2 ulps) along null directions.
NOISE_FLOOR_ULPS = 10
# Row-sampled Hessian ("auto"): rows per parameter block, used when n is this many times more.
HESSIAN_SAMPLE_ROWS = 500
HESSIAN_SAMPLE_MIN_FACTOR = 4
# The sample stage stops here: the sample's minimiser is only within sampling error anyway.
SAMPLE_STAGE_TOL = 1e-4
# A step that shrinks max|grad| by this factor or more keeps its Hessian for the next step.
REUSE_RATE = 0.25
REUSE_MIN_GRAM_COST = 20
REUSE_MIN_SIZE = 10_000_000
# Sampled -> exact Hessian (NewtonSolver._exact_pays). A Gram of p columns takes ~p / 25 passes'
# time (2 threads of the benchmark CPU, 1M x 51: ~80 ms at ~65 GFLOP/s, ~40 ms to read X).
EXACT_SWITCH_FACTOR, EXACT_SWITCH_RELATIVE, EXACT_SWITCH_ITERATIONS = 10.0, 2e-3, 2.0
GRAM_COLUMNS_PER_PASS = 25.0
# A sampled-Hessian step that shrinks max|grad| by less than this grows the sample. (Not
# lower: far from the optimum exact Newton steps shrink it by only 0.2-0.4 too, and growing
# the sample then buys nothing; B2 took 17 passes instead of 14 with 0.25.)
SAMPLED_RATE_LIMIT = 0.5
