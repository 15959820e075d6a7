"""Covariances of the parameters from :class:`~torchlogit.fitting.InferenceMoments`.

``nonrobust = I^{-1}``; ``HC0 = I^{-1} M I^{-1}``; ``HC1 = HC0 · N / (N - q)``;
``cluster = G/(G-1) · (N-1)/(N-q) · I^{-1} M_c I^{-1}`` (statsmodels' default correction),
with ``I`` the observed (penalised, for L2) information, ``M`` / ``M_c`` the meats, ``N`` the
number of observations (the weight sum), ``q`` parameters, ``G`` groups; for a penalised
multinomial fit ``A V A^T`` with ``A`` the map to the contrasts. A singular ``I`` raises
:class:`numpy.linalg.LinAlgError` naming the terms involved.
"""

from __future__ import annotations

import numpy as np

COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


def _inverse(information: np.ndarray, terms: list) -> np.ndarray:
    """``I^{-1}``; a singular ``I`` raises naming the terms in its null space."""
    scale = np.sqrt(np.clip(np.diag(information), 0, None))
    zero = np.flatnonzero(scale <= 0)
    if zero.size:
        raise np.linalg.LinAlgError(
            "the information matrix is singular: no information on "
            + ", ".join(_name(terms[j]) for j in zero)
            + " (a constant or all-zero column, a class with no rows, or a term whose rows are "
            "all fitted with probability 0 or 1: the classes are separated along it)"
        )
    R = information / np.outer(scale, scale)
    vals, vecs = np.linalg.eigh(R)
    small = vals <= 1e-10 * vals.max()
    if small.any():
        sets = []
        for v in vecs[:, small].T:  # each null direction: the terms it combines
            names = ", ".join(_name(terms[j]) for j in np.flatnonzero(np.abs(v) > 0.05))
            if names not in sets:
                sets.append(names)
        raise np.linalg.LinAlgError(
            "the information matrix is singular: these terms are collinear (a linear "
            "combination of them is constant in the data, or duplicates the intercept): "
            + "; ".join(f"{{{s}}}" for s in sets)
            + ". Drop one term of each set and refit"
        )
    inv = (vecs / vals) @ vecs.T
    return inv / np.outer(scale, scale)


def _name(term) -> str:
    return f"{term[1]} (class {term[0]!r})" if isinstance(term, tuple) else str(term)


def covariance(moments, cov_type: str = "nonrobust") -> np.ndarray:
    """The ``(q, q)`` covariance of ``moments.params`` for ``cov_type`` (module docstring)."""
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
    terms = moments.terms
    if moments.transform is not None:  # the K-class coefficients
        p = len(moments.information) // len(moments.classes)
        plain = [t for _, t in moments.terms[:p]]
        terms = [(c, t) for c in moments.classes.tolist() for t in plain]
    Hinv = _inverse(moments.information, terms)
    if cov_type == "nonrobust":
        V = Hinv
    elif cov_type == "cluster":
        if moments.cluster_meat is None:
            raise ValueError("cov_type='cluster' needs groups= (one group label per row)")
        G, N, q = moments.n_groups, moments.n_obs, moments.n_params
        if G < 2:
            raise ValueError(f"cov_type='cluster' needs at least 2 groups, got {G}")
        V = Hinv @ moments.cluster_meat @ Hinv * (G / (G - 1) * (N - 1) / (N - q))
    else:
        if moments.meat is None:
            raise ValueError(f"cov_type={cov_type!r} needs the moments computed with meat=True")
        V = Hinv @ moments.meat @ Hinv
        if cov_type == "HC1":
            V = V * moments.n_obs / (moments.n_obs - moments.n_params)
    if moments.transform is not None:
        A = moments.transform
        V = A @ V @ A.T
    return (V + V.T) / 2
