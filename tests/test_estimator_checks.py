"""scikit-learn's own estimator checks over several configurations of LogisticRegression.

Three (configuration, check) pairs are expected to fail, each for a reason that lies in the
check rather than in the estimator; :func:`_expected_failed_checks` states them.
"""

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from torchlogit import LogisticRegression, LogisticRegressionCV

ESTIMATORS = [
    LogisticRegression(),
    LogisticRegression(solver="lbfgs"),
    LogisticRegression(C=np.inf),
    LogisticRegression(fit_intercept=False),
    LogisticRegression(dtype="float32"),
    LogisticRegression(class_weight="balanced"),
    LogisticRegressionCV(Cs=3, cv=3),
    LogisticRegressionCV(Cs=3, cv=3, penalty="l1"),
]


def _expected_failed_checks(estimator):
    params = estimator.get_params()
    failed = {}
    if not params["fit_intercept"]:
        failed["check_class_weight_classifiers"] = (
            "asks for > 87% of predictions in class 0 on noisy blobs centred away from the "
            "origin, which a model without intercept cannot give: scikit-learn's own "
            "LogisticRegression(fit_intercept=False) scores 0.52 / 0.64 there, with the same "
            "coefficients as torchlogit (see test_agreement.py)"
        )
    if params["dtype"] == "float32":
        failed["check_sample_weight_equivalence_on_dense_data"] = (
            "compares predict_proba with rtol=1e-7, below float32's resolution "
            "(eps = 1.2e-7): the two float32 fits differ in the last bit. The equivalence is "
            "tested at float32 precision in test_properties.py, and exactly in float64 here"
        )
        failed["check_sample_weight_equivalence_on_sparse_data"] = (
            "the same rtol=1e-7 comparison on sparse input (tags.input_tags.sparse): float32 "
            "fits differ in the last bit, e.g. 0.5211906 vs 0.5211907; float64 passes"
        )
    return failed


# The checks fit tiny separable data with penalty=None, and unscaled iris with max_iter=100:
# these warnings are the estimator's correct answer there, not a defect.
@pytest.mark.filterwarnings("ignore::torchlogit.SeparableDataWarning")
@pytest.mark.filterwarnings(
    "ignore:solver 'lbfgs' did not converge:sklearn.exceptions.ConvergenceWarning"
)
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
