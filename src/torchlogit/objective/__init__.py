"""Objective layer: losses on the raw prediction, penalties, and the linear objective."""

from ._box import Box, box_l1_violation
from ._fold_stacked import FoldStackedLoss, FoldStackedObjective
from ._linear import LinearObjective
from ._lookahead import LookaheadObjective
from ._loss import BinomialLoss, MultinomialLoss, make_loss
from ._penalty import PENALTIES, ElasticNetPenalty, make_penalty, register_penalty
from ._points import BatchList, Line, Point, hessian_dtype

__all__ = [
    "PENALTIES",
    "BatchList",
    "BinomialLoss",
    "Box",
    "ElasticNetPenalty",
    "FoldStackedLoss",
    "FoldStackedObjective",
    "Line",
    "LinearObjective",
    "LookaheadObjective",
    "MultinomialLoss",
    "Point",
    "box_l1_violation",
    "hessian_dtype",
    "make_loss",
    "make_penalty",
    "register_penalty",
]
