"""Objective layer: losses on the raw prediction, penalties, and the linear objective."""

from ._linear import LinearObjective
from ._loss import BinomialLoss, MultinomialLoss, make_loss
from ._penalty import ElasticNetPenalty, make_penalty

__all__ = [
    "BinomialLoss",
    "ElasticNetPenalty",
    "LinearObjective",
    "MultinomialLoss",
    "make_loss",
    "make_penalty",
]
