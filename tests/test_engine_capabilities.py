"""The engine drives a solver by its declared capabilities, never by its name.

A solver registered here under a new name, with the L-BFGS or Newton loop and other
declarations, must be refused, wrapped or resumed exactly as its declarations say.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from torchlogit import LogisticRegression
from torchlogit.data import ArraySource
from torchlogit.solvers import SOLVERS, LBFGSSolver, NewtonSolver


@pytest.fixture
def register():
    added = []

    def add(base, name, **caps):
        cls = type(
            f"Declared{len(added)}",
            (base,),
            {"name": name, "capabilities": dataclasses.replace(base.capabilities, **caps)},
        )
        SOLVERS[name] = cls
        added.append(name)
        return cls

    yield add
    for name in added:
        del SOLVERS[name]


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    return X, (X @ [1.0, -1.0, 0.5] + rng.logistic(size=n) > 0).astype(int)


def test_a_solver_that_declares_no_streaming_is_refused_on_a_source(register):
    register(LBFGSSolver, "in-memory-only", streamed=False)
    X, y = _data()
    with pytest.raises(ValueError, match="'in-memory-only' does not run on streamed data"):
        LogisticRegression(solver="in-memory-only").fit(ArraySource(X, y))
    got = LogisticRegression(solver="in-memory-only", tol=1e-8).fit(X, y)
    ref = LogisticRegression(solver="lbfgs", tol=1e-8).fit(X, y)
    np.testing.assert_array_equal(got.coef_, ref.coef_)  # the same loop: the same iterates


def test_lookahead_follows_the_declaration_not_the_name(register, monkeypatch):
    seen = []
    plain = register(NewtonSolver, "newton-plain", lookahead=False)
    ahead = register(NewtonSolver, "newton-ahead", lookahead=True)
    for cls in (plain, ahead):
        solve = cls.solve

        def spy(self, objective, coef0, resume=None, _solve=solve):
            seen.append((self.name, type(objective).__name__))
            return _solve(self, objective, coef0, resume=resume)

        monkeypatch.setattr(cls, "solve", spy)
    X, y = _data()
    for name in ("newton-plain", "newton-ahead"):
        LogisticRegression(solver=name).fit(ArraySource(X, y, chunk_rows=100))
        LogisticRegression(solver=name).fit(X, y)
    assert seen == [
        ("newton-plain", "LinearObjective"),
        ("newton-plain", "LinearObjective"),
        ("newton-ahead", "LookaheadObjective"),  # streamed: one pass per iteration
        ("newton-ahead", "LinearObjective"),  # in memory: no lookahead
    ]


def test_a_solver_that_cannot_resume_starts_afresh_with_a_warning(register, tmp_path):
    register(LBFGSSolver, "no-resume", resume=False)
    X, y = _data()
    est = LogisticRegression(solver="no-resume", checkpoint_dir=tmp_path, max_iter=3)
    with pytest.warns(Warning):  # stopped at max_iter: a convergence warning
        est.fit(X, y)
    with pytest.warns(UserWarning, match="cannot continue from a checkpoint; starting afresh"):
        est.fit(X, y)
