"""``torchlogit demo``: the embedded default job, side by side with scikit-learn."""

from __future__ import annotations

import time

from ._main import register_command


def _problems():
    from sklearn.datasets import load_breast_cancer, make_blobs
    from sklearn.preprocessing import StandardScaler

    # The classic PyTorch-tutorial problem: two Gaussian blobs in the plane.
    Xb, yb = make_blobs(n_samples=1000, centers=2, n_features=2, cluster_std=2.5, random_state=0)
    Xc, yc = load_breast_cancer(return_X_y=True)
    Xc = StandardScaler().fit_transform(Xc)
    return [("two blobs (1000 x 2)", Xb, yb), ("breast cancer (569 x 30)", Xc, yc)]


def _fit_and_measure(make, X, y):
    import numpy as np
    from sklearn.metrics import accuracy_score, log_loss

    t0 = time.perf_counter()
    clf = make().fit(X, y)
    elapsed = time.perf_counter() - t0
    proba = np.asarray(clf.predict_proba(X))
    return {
        "accuracy": accuracy_score(y, np.asarray(clf.predict(X))),
        "log_loss": log_loss(y, proba),
        "n_iter": int(np.asarray(clf.n_iter_).max()),
        "time_s": elapsed,
        "model": clf,
    }


DEFAULT_REPORT_DIR = "torchlogit-demo-report"


def _add_arguments(parser):
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto")
    parser.add_argument(
        "--report-dir",
        default=DEFAULT_REPORT_DIR,
        metavar="DIR",
        help=f"HTML report of the breast-cancer fit (default ./{DEFAULT_REPORT_DIR})",
    )
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")


def _write_report(clf, X, y, out_dir):
    from sklearn.datasets import load_breast_cancer

    from ..inspection import write_report

    names = load_breast_cancer().feature_names
    return write_report(
        clf,
        X,
        y,
        out_dir,
        title="torchlogit demo: breast cancer (569 x 30, standardised)",
        data_name="scikit-learn's breast-cancer data",
        feature_names=names,
        in_sample=True,
    )


def run(args) -> int:
    from sklearn.linear_model import LogisticRegression as SkLogisticRegression

    from .. import LogisticRegression

    rows, last = [], None
    for name, X, y in _problems():
        ours = _fit_and_measure(lambda: LogisticRegression(C=args.C, device=args.device), X, y)
        theirs = _fit_and_measure(lambda: SkLogisticRegression(C=args.C), X, y)
        rows.append((name, "torchlogit", ours))
        rows.append((name, "scikit-learn", theirs))
        last = (ours["model"], X, y)  # the breast-cancer fit comes last
    header = (
        f"{'problem':<26} {'library':<13} {'accuracy':>9} {'log-loss':>10} {'iters':>6} {'time':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, lib, r in rows:
        print(
            f"{name:<26} {lib:<13} {r['accuracy']:>9.4f} {r['log_loss']:>10.6f} "
            f"{r['n_iter']:>6d} {r['time_s'] * 1000:>7.1f}ms"
        )
    if not args.no_report:
        page = _write_report(*last, args.report_dir)
        print(f"\nreport on the breast-cancer fit: {page}")
    return 0


register_command(
    "demo", "fit the built-in problems and compare with scikit-learn", _add_arguments, run
)
