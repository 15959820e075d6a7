"""scikit-learn-facing estimators."""

from ._logistic import LogisticRegression, SeparableDataWarning

__all__ = ["LogisticRegression", "SeparableDataWarning"]
