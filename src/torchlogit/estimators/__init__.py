"""scikit-learn-facing estimators."""

from ._cv import LogisticRegressionCV
from ._files import register_file_writers
from ._l1_min_c import l1_min_c
from ._logistic import LogisticRegression, SeparableDataWarning

__all__ = [
    "LogisticRegression",
    "LogisticRegressionCV",
    "SeparableDataWarning",
    "l1_min_c",
    "register_file_writers",
]
