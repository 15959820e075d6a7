"""scikit-learn's solver names, as aliases of torchlogit's solvers.

scikit-learn 1.9's ``LogisticRegression(solver=...)`` takes ``"lbfgs"``, ``"newton-cg"``,
``"newton-cholesky"``, ``"liblinear"``, ``"sag"`` and ``"saga"``. Each name is mapped here to
a torchlogit solver that reaches the same optimum (every one of them minimises the same
objective), together with what scikit-learn accepts under that name, so that a problem
scikit-learn refuses is refused with scikit-learn's message and one it accepts is solved:

==================  ===================  ==========================  =====  ==========
name                runs                 penalties (kinds)           dual   multiclass
==================  ===================  ==========================  =====  ==========
lbfgs               lbfgs                l2, none                    no     yes
newton-cg           newton-cg            l2, none                    no     yes
newton-cholesky     newton               l2, none                    no     yes
sag                 the exact solver     l2, none                    no     yes
saga                the exact solver     l2, l1, elasticnet, none    no     yes
liblinear           the exact solver     l2, l1                      (l2)   no
==================  ===================  ==========================  =====  ==========

"The exact solver" is ``"auto"``'s choice (:func:`~torchlogit.solvers.choose_solver`) for the
problem: Newton for small smooth problems, proximal Newton (``"cd"``) with an L1 part, ...;
the stochastic ``sag`` / ``saga`` and the dual coordinate descent of liblinear are replaced by
a solver that converges to the same minimiser. ``dual=True`` is accepted only where scikit-learn
accepts it (liblinear with L2), and solved in the primal (same optimum).

``tol``: under ``lbfgs``, ``newton-cg`` and ``newton-cholesky`` scikit-learn's ``tol`` bounds
the largest gradient entry of the averaged objective, as torchlogit's does. Under ``sag`` /
``saga`` it bounds the relative change of the coefficients over an epoch
(``max|w_t - w_{t-1}| / max|w_t|``), and under ``liblinear`` its own dual / primal criteria:
measures of those algorithms' progress, not of the optimality of a point
(:attr:`SolverAlias.gradient_tol` is False): the exact solver that runs for them should then
stop at ``min(tol, its default_tol)``, never looser than its own definition of solved.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SKLEARN_SOLVERS", "SolverAlias", "check_alias", "resolve_alias"]


@dataclass(frozen=True)
class SolverAlias:
    """``target``: the registered solver that runs (``"auto"``: the choice for the problem);
    ``penalties``: the penalty kinds scikit-learn accepts under this name (``None``: no penalty);
    ``dual``: whether ``dual=True`` is accepted; ``multiclass``: whether K > 2 classes are;
    ``not_converged``: how scikit-learn's ``ConvergenceWarning`` begins for this solver
    (``{n_iter}``: the iterations run), kept so that code filtering on it keeps working;
    ``gradient_tol``: whether scikit-learn's ``tol`` under this name bounds the gradient
    (``max_j |grad_j|`` of the averaged objective), as torchlogit's ``tol`` does."""

    target: str
    penalties: frozenset = frozenset({"l2", None})
    dual: bool = False
    multiclass: bool = True
    not_converged: str = ""
    gradient_tol: bool = True
    # scikit-learn counts a stop at the working precision as convergence under this name
    # (lbfgs: scipy's L-BFGS-B stops, converged, once the relative decrease of f is below
    # factr * eps): the engine then gives no ConvergenceWarning for the stall rule's stop.
    precision_is_convergence: bool = False


SKLEARN_SOLVERS: dict[str, SolverAlias] = {
    "lbfgs": SolverAlias(
        "lbfgs", not_converged="lbfgs failed to converge", precision_is_convergence=True
    ),
    "newton-cg": SolverAlias(
        "newton-cg",
        not_converged="newton-cg failed to converge. Increase the number of iterations.",
    ),
    "newton-cholesky": SolverAlias(
        "newton", not_converged="Newton solver did not converge after {n_iter} iterations"
    ),
    "sag": SolverAlias(
        "auto",
        not_converged="The max_iter was reached which means the coef_ did not converge",
        gradient_tol=False,
    ),
    "saga": SolverAlias(
        "auto",
        penalties=frozenset({"l2", "l1", "elasticnet", None}),
        not_converged="The max_iter was reached which means the coef_ did not converge",
        gradient_tol=False,
    ),
    "liblinear": SolverAlias(
        "auto",
        penalties=frozenset({"l2", "l1"}),
        dual=True,
        multiclass=False,
        not_converged="Liblinear failed to converge, increase the number of iterations.",
        gradient_tol=False,
    ),
}


def check_alias(name: str, penalty: str | None, *, dual: bool = False) -> None:
    """Refuse, with scikit-learn's messages, what scikit-learn refuses under solver ``name``
    for ``penalty`` (a kind: ``"l2"``, ``"l1"``, ``"elasticnet"`` or ``None``) and ``dual``.
    Names that are not scikit-learn's are left to the solver's own declarations."""
    alias = SKLEARN_SOLVERS.get(name)
    if alias is None:
        if dual:
            raise ValueError(f"Solver {name} supports only dual=False, got dual={dual}")
        return
    if penalty not in ("l2", None) and "l1" not in alias.penalties:
        raise ValueError(
            f"Solver {name} supports only 'l2' or None penalties, got {penalty} penalty."
        )
    if dual and not (alias.dual and penalty == "l2"):
        if alias.dual:  # liblinear's own words
            raise ValueError(
                f"Unsupported set of arguments: The combination of penalty='{penalty}' and "
                "loss='logistic_regression' are not supported when dual=True, Parameters: "
                f"penalty='{penalty}', loss='logistic_regression', dual=True"
            )
        raise ValueError(f"Solver {name} supports only dual=False, got dual={dual}")
    if penalty == "elasticnet" and penalty not in alias.penalties:
        raise ValueError(f"Only 'saga' solver supports elasticnet penalty, got solver={name}.")
    if penalty is None and None not in alias.penalties:
        raise ValueError(f"C=np.inf as well as penalty=None is not supported for the {name} solver")


def resolve_alias(name: str, *, n_classes: int | None = None) -> str:
    """The registered solver (or ``"auto"``) that runs for ``name``; refuses K > 2 classes
    under a name that scikit-learn runs only on two (liblinear)."""
    alias = SKLEARN_SOLVERS.get(name)
    if alias is None:
        return name
    if n_classes is not None and n_classes > 2 and not alias.multiclass:
        raise ValueError(
            f"The '{name}' solver does not support multiclass classification (n_classes >= 3)."
            " Either use another solver or wrap the estimator in a OneVsRestClassifier to keep"
            " applying a one-versus-rest scheme."
        )
    return alias.target
