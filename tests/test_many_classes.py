"""Thousands of classes (issue #13): bounded memory, the same optimum.

The multinomial value and gradient work through the rows in blocks of bounded ``rows x K``
(``objective._linear.BLOCK_ENTRIES``), and the smooth solvers stop keeping the ``(n, K)`` raw
predictions above ``solvers._adapter.RAW_KEEP_MAX`` entries. Checked here: the blocks'
size, the values against the unblocked evaluation, the fit against the native (raw-keeping)
path and scikit-learn, and the peak memory of a fit with 1,000 classes.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression as SkLR

import torchlogit.objective._linear as linear_module
import torchlogit.solvers._adapter as adapter_module
from torchlogit.data import InMemoryData
from torchlogit.objective import ElasticNetPenalty, LinearObjective, make_loss
from torchlogit.solvers import LBFGSSolver

N, K, D = 3_000, 40, 2
C = 10.0


def _data(n=N, k=K, d=D, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, d)) * 2
    y = np.arange(n) % k
    X = centers[y] + rng.normal(size=(n, d))
    return X, y, rng.uniform(0.5, 2.0, size=n)


def _objective(X, y, sw):
    data = InMemoryData(torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(sw))
    # scikit-learn's objective C sum s_i l_i + |W|^2 / 2, divided by C S
    l2 = 1.0 / (C * float(sw.sum()))
    return LinearObjective(
        make_loss(int(y.max()) + 1), data, ElasticNetPenalty(0.0, l2, X.shape[1]),
        fit_intercept=True, n_features=X.shape[1],
    )  # fmt: skip


def test_blocks_bound_the_temporaries_and_leave_the_values(monkeypatch):
    X, y, sw = _data()
    obj = _objective(X, y, sw)
    coef = 0.3 * torch.randn(*obj.coef_shape, generator=torch.Generator().manual_seed(1),
                             dtype=torch.float64)  # fmt: skip
    f0, g0 = obj.value_gradient(coef)  # N K = 120,000 entries: one block
    v0 = obj.value(coef)
    monkeypatch.setattr(linear_module, "BLOCK_ENTRIES", 1_000)
    sizes = []
    loss = obj.loss
    for name in ("loss", "loss_gradient"):
        original = getattr(loss, name)

        def recording(y_, raw, _original=original):
            sizes.append(raw.numel())
            return _original(y_, raw)

        monkeypatch.setattr(loss, name, recording)
    f, g = obj.value_gradient(coef)
    v = obj.value(coef)
    assert len(sizes) == 2 * -(-N // (1_000 // K)) and max(sizes) <= 1_000
    torch.testing.assert_close(f, f0, rtol=1e-13, atol=0)
    torch.testing.assert_close(g, g0, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(v, v0, rtol=1e-13, atol=0)


def test_no_raw_predictions_kept_above_the_limit(monkeypatch):
    X, y, sw = _data()
    obj = _objective(X, y, sw)
    assert adapter_module.line_objective(obj) is obj  # N K = 120,000: kept
    monkeypatch.setattr(adapter_module, "RAW_KEEP_MAX", N * K - 1)
    generic = adapter_module.line_objective(obj)
    assert generic is not obj
    coef = torch.zeros(obj.coef_shape, dtype=torch.float64)
    assert generic.point(coef).raw == []


def test_blocked_fit_is_the_native_fit_and_sklearn(monkeypatch):
    X, y, sw = _data()
    zeros = torch.zeros((K, D + 1), dtype=torch.float64)
    native = LBFGSSolver(tol=1e-10, max_iter=5000).solve(_objective(X, y, sw), zeros)
    monkeypatch.setattr(adapter_module, "RAW_KEEP_MAX", 0)
    monkeypatch.setattr(linear_module, "BLOCK_ENTRIES", 4_096)
    obj = _objective(X, y, sw)
    # (tol 1e-8: the plain line search compares values, which resolve gradients down to
    # ~1e-9 here, as for streamed data)
    blocked = LBFGSSolver(tol=1e-8, max_iter=5000).solve(obj, zeros)
    assert native.converged and blocked.converged
    f_native, f_blocked = float(obj.value(native.coef)), float(obj.value(blocked.coef))
    assert abs(f_blocked - f_native) <= 1e-12 * abs(f_native)
    torch.testing.assert_close(blocked.coef, native.coef, rtol=1e-5, atol=1e-6)
    sk = SkLR(C=C, tol=1e-12, max_iter=10_000).fit(X, y, sample_weight=sw)
    sk_coef = torch.from_numpy(np.hstack([sk.coef_, sk.intercept_[:, None]]))
    assert f_blocked <= float(obj.value(sk_coef)) * (1 + 1e-12)


@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS from getrusage in kilobytes")
def test_peak_memory_of_a_fit_with_a_thousand_classes():
    """20,000 rows x 2 features, 1,000 classes: an (n, K) float64 array is 153 MB. Before
    the blocks, two L-BFGS iterations grew the peak by ~690 MB (raw predictions kept, the
    direction's product, softmax temporaries); now they must stay under half of one array."""
    n, k = 20_000, 1_000
    script = textwrap.dedent(
        f"""
        import resource, warnings, numpy as np
        from torchlogit import LogisticRegression
        warnings.simplefilter("ignore")
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal(({n}, 2)), np.arange({n}) % {k}
        LogisticRegression(max_iter=1).fit(X[: 2 * {k}], y[: 2 * {k}])  # imports, warm-up
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        LogisticRegression(solver="lbfgs", max_iter=2).fit(X, y)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=os.environ,
        check=True, timeout=600,
    )  # fmt: skip
    growth_bytes = int(out.stdout.split()[-1]) * 1024
    assert growth_bytes < 0.5 * n * k * 8, growth_bytes
