"""Writes the golden model files of tests/test_golden_models.py (run once, by the main of
2026-11-30 before the fit-engine redesign; kept to show how they were made).

    PYTHONPATH=src python tests/golden/make_golden.py
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_iris

from torchlogit import LogisticRegression

HERE = Path(__file__).parent


def main():
    Xb, yb = load_breast_cancer(return_X_y=True)
    Xb = (Xb - Xb.mean(0)) / Xb.std(0)
    Xi, yi = load_iris(return_X_y=True)
    names = [f"f_{j}" for j in range(Xb.shape[1])]
    cases = {
        "binary": (LogisticRegression(C=0.5), Xb, yb),
        "multinomial": (LogisticRegression(C=2.0), Xi, yi),
        "l1_named": (
            LogisticRegression(l1_ratio=1.0, C=0.1),
            pd.DataFrame(Xb, columns=names),
            np.where(yb == 1, "benign", "malignant"),
        ),
        "float32": (LogisticRegression(C=1.0), Xi.astype(np.float32), yi),
    }
    for name, (clf, X, y) in cases.items():
        clf.fit(X, y)
        clf.save(HERE / f"{name}.safetensors")
        Xq = np.asarray(X)[::7]
        np.savez(
            HERE / f"{name}_expected.npz",
            X=Xq,
            proba=clf.predict_proba(X)[::7],
            predict=np.asarray(clf.predict(X)[::7]).astype(str),
        )


if __name__ == "__main__":
    main()
