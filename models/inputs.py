"""The input-uncertainty layer: the uniforms behind every uncertain input.

Each uncertain input has a *draw key*: ``scenario.<path>`` or ``operating_model.<path>``
without the model's name (operating models that share an input share its draw).
:func:`sample_uniforms` gives the matrix ``U[r, j]`` of the uniform behind key ``j``
in replication ``r``; :func:`models.compile.compile_config` pushes it through each
input's inverse CDF.

Methods (``inputs.sampling``):

- ``independent`` (default): ``U[r, j] = keyed_uniform(seed, r, Stream.INPUT, stable_id(key), 0)``,
  a pure function of the replication index.
- ``lhs``: a Latin hypercube over the ``R = cfg['replications']`` replications. Each
  key's rows are a keyed random permutation of the ``R`` strata, ``U[r, j] =
  (stratum[r] + jitter[r]) / R``, so each column has exactly one value in every
  stratum ``[k/R, (k+1)/R)``.

``inputs.rank_correlations`` then imposes target Spearman rank correlations by
Iman & Conover (1982), on either method: each column is reordered (its values,
hence its marginal, are unchanged) so that its ranks follow correlated normal
scores. Inputs linked by correlations form a group; each group is treated on its
own, and inputs in no correlation keep their draws exactly.

Latin hypercube strata and rank orders are properties of the whole set of ``R``
replications, not of one row: those columns are always computed over all ``R``
rows and then sliced, so a shard gets exactly the rows of the unsharded run, but
changing ``replications`` changes every row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
from scipy import linalg, sparse, stats
from scipy.sparse.csgraph import connected_components

from sim.core.rng import Stream, keyed_uniforms, stable_id

SAMPLING = ("independent", "lhs")

# Occurrence words of Stream.INPUT; 0 is the independent draw, so an input's Latin
# hypercube shares no random numbers with its independent draw.
LHS_STRATUM = 1
LHS_JITTER = 2

_BELOW_ONE = np.nextafter(1.0, 0.0)  # (k + jitter) / R can round up to exactly 1
_SMALLEST_KEYED = 0.5 * 2.0**-53  # sim.core.rng.keyed_uniform: (top 53 bits + 0.5) * 2**-53


def uniform_extremes(replications: int) -> tuple[float, float]:
    """The smallest and largest uniform an inverse CDF can be given over ``replications`` rows.

    A keyed uniform is at least ``2**-54``; a Latin hypercube's first stratum divides its
    jitter by the replications, and both stay at or below the largest double under 1.
    Iman-Conover only reorders these values. Validation evaluates each input's inverse
    CDF here, so a distribution whose draws could overflow or leave its field's range is
    refused before sampling.

    Parameters
    ----------
    replications : int
        ``cfg['replications']``, at least 1.

    Returns
    -------
    (low, high) : tuple of float
    """
    return _SMALLEST_KEYED / max(1, int(replications)), float(_BELOW_ONE)


def key_hint(key: str, keys: Collection[str]) -> str:
    """A hint for a mistyped draw key: operating-model inputs are keyed without the model name."""
    parts = str(key).split(".")
    if len(parts) > 2 and parts[0] == "operating_model":
        shared = ".".join([parts[0], *parts[2:]])
        if shared in keys:
            return f" (operating-model inputs are keyed without the model name: {shared})"
    return ""


def independent_uniforms(seed: int, replications: np.ndarray, key: str) -> np.ndarray:
    """The independent draw of ``key`` for each replication index (``Stream.INPUT``, occurrence 0)."""
    return keyed_uniforms(seed, np.asarray(replications, np.int64), Stream.INPUT, stable_id(key), 0)


def _keyed_permutation(seed: int, n: int, stream: int, key: str, occurrence: int) -> np.ndarray:
    """A random permutation of ``range(n)`` that depends only on the key words."""
    u = keyed_uniforms(seed, np.arange(n, dtype=np.int64), stream, stable_id(key), occurrence)
    return np.argsort(u, kind="stable")


def lhs_uniforms(seed: int, n: int, key: str) -> np.ndarray:
    """Latin hypercube column of ``key`` over ``n`` replications.

    Returns
    -------
    ndarray, shape (n,)
        ``(stratum[r] + jitter[r]) / n`` in (0, 1): row ``r`` falls in stratum
        ``stratum[r]``, a keyed random permutation of ``range(n)``.
    """
    strata = _keyed_permutation(seed, n, Stream.INPUT, key, LHS_STRATUM)
    jitter = keyed_uniforms(seed, np.arange(n, dtype=np.int64), Stream.INPUT, stable_id(key), LHS_JITTER)
    return np.minimum((strata + jitter) / n, _BELOW_ONE)


def score_correlation(spearman: np.ndarray) -> np.ndarray:
    """Pearson correlation of normal scores that gives the Spearman correlation ``spearman``.

    For a bivariate normal, Spearman's rho is ``(6 / pi) asin(r / 2)``; inverting it
    (``r = 2 sin(pi rho / 6)``) removes the bias of up to ~0.02 that using the rank
    target directly as the score correlation would leave.
    """
    return 2.0 * np.sin(np.pi * np.asarray(spearman, dtype=float) / 6.0)


def rank_correlation_groups(correlations: Sequence[Mapping], keys: Sequence[str]) -> list[tuple[list[str], np.ndarray]]:
    """Split configured rank correlations into groups of linked inputs.

    Parameters
    ----------
    correlations : sequence of mapping
        ``inputs.rank_correlations``: items ``{between: [key_a, key_b], rho: float}``.
    keys : sequence of str
        The uncertain-input keys in sampling order; a group lists its keys in this
        order (the Cholesky factor, hence the draws, depends on the order).

    Returns
    -------
    list of (keys, matrix)
        One entry per connected group of correlated inputs: its keys and its target
        Spearman matrix (pairs not configured within a group are targeted at 0).

    Raises
    ------
    ValueError
        If a correlation names a key not in ``keys``, or the same key twice.
    """
    position = {key: i for i, key in enumerate(keys)}
    pairs = []
    for item in correlations:
        a, b = item["between"]
        for key in (a, b):
            if key not in position:
                raise ValueError(f"rank correlation names {key!r}, which is not an uncertain input; uncertain inputs: {', '.join(keys)}")
        if a == b:
            raise ValueError(f"rank correlation between {a!r} and itself: name two different inputs")
        pairs.append((position[a], position[b], float(item["rho"])))
    if not pairs:
        return []
    involved = sorted({i for a, b, _ in pairs for i in (a, b)})
    local = {i: k for k, i in enumerate(involved)}
    rows = [local[a] for a, _, _ in pairs]
    cols = [local[b] for _, b, _ in pairs]
    graph = sparse.coo_array((np.ones(len(pairs)), (rows, cols)), shape=(len(involved), len(involved))).tocsr()
    _, labels = connected_components(graph, directed=False)
    groups = []
    for label in dict.fromkeys(labels):  # groups in order of their first key
        members = [i for i, lab in zip(involved, labels, strict=True) if lab == label]
        index = {i: k for k, i in enumerate(members)}
        target = np.eye(len(members))
        for a, b, rho in pairs:
            if a in index:
                target[index[a], index[b]] = target[index[b], index[a]] = rho
        groups.append(([keys[i] for i in members], target))
    return groups


def iman_conover(u: np.ndarray, spearman: np.ndarray, seed: int, keys: Sequence[str]) -> np.ndarray:
    """Reorder the columns of ``u`` so their rank correlation approaches ``spearman``.

    Iman & Conover (1982): van der Waerden scores ``Phi^-1(i / (n + 1))``, keyed-
    randomly permuted per column (``Stream.INPUT_CORRELATION``), are decorrelated by
    the Cholesky factor of their sample correlation and correlated by the Cholesky
    factor of the target (:func:`score_correlation`); each column of ``u`` is then
    rearranged so that its ranks are those of the transformed scores.

    Parameters
    ----------
    u : ndarray, shape (n, k)
        One column per key, over all ``n`` replications.
    spearman : ndarray, shape (k, k)
        Target Spearman rank correlation matrix.
    seed : int
        Master seed.
    keys : sequence of str
        The draw key of each column: keys the score permutations.

    Returns
    -------
    ndarray, shape (n, k)
        Each column a permutation of the same column of ``u``.

    Raises
    ------
    numpy.linalg.LinAlgError
        If the target is not positive definite (validation reports it first).
    """
    u = np.asarray(u, dtype=float)
    n, k = u.shape
    target = np.linalg.cholesky(score_correlation(spearman))
    scores = stats.norm.ppf(np.arange(1, n + 1) / (n + 1))
    m = np.column_stack([scores[_keyed_permutation(seed, n, Stream.INPUT_CORRELATION, key, 0)] for key in keys])
    if n > k:  # with n <= k rows the scores' sample correlation is singular
        try:
            sample = np.linalg.cholesky(np.corrcoef(m, rowvar=False))
            m = linalg.solve_triangular(sample, m.T, lower=True).T  # sample correlation -> identity exactly
        except np.linalg.LinAlgError:
            pass  # tiny n only (columns happen to be collinear): keep the scores as drawn
    ranks = stats.rankdata(m @ target.T, method="ordinal", axis=0) - 1
    return np.take_along_axis(np.sort(u, axis=0), ranks, axis=0)


def sample_uniforms(cfg: Mapping, keys: Sequence[str], replications: np.ndarray | None = None) -> np.ndarray:
    """The input uniforms of a run for the given replication rows.

    Parameters
    ----------
    cfg : Mapping
        Validated plain config: reads ``seed``, ``replications`` and ``inputs``
        (a missing ``inputs`` section means independent sampling, no correlation).
    keys : sequence of str
        Uncertain-input draw keys, in sampling order (see
        :func:`models.compile.input_keys`); every key named by a rank correlation
        must be among them.
    replications : array of int, optional
        Replication indices (default all of ``range(cfg['replications'])``).

    Returns
    -------
    ndarray, shape (len(replications), len(keys))
        Row ``i`` is replication ``replications[i]`` of the full ``R``-row design:
        Latin hypercube and correlated columns are computed over all ``R`` rows and
        sliced; independent columns are drawn for the requested rows only (the
        same numbers, at shard cost).

    Raises
    ------
    ValueError
        Unknown sampling method, a correlation naming a key not in ``keys``, or a
        replication index outside ``range(R)`` when the design spans all rows.
    """
    seed = int(cfg["seed"])
    total = int(cfg["replications"])
    reps = np.arange(total, dtype=np.int64) if replications is None else np.asarray(replications, dtype=np.int64)
    settings = cfg.get("inputs") or {}
    sampling = settings.get("sampling", "independent")
    if sampling not in SAMPLING:
        raise ValueError(f"inputs.sampling = {sampling!r}: must be one of {', '.join(SAMPLING)}")
    groups = rank_correlation_groups(settings.get("rank_correlations") or [], keys)
    correlated = {key for members, _ in groups for key in members}
    if (sampling == "lhs" or correlated) and reps.size and (reps.min() < 0 or reps.max() >= total):
        raise ValueError(
            f"replication indices must lie in range({total}): "
            "Latin hypercube sampling and rank correlation are defined over all replications"
        )
    column = {key: j for j, key in enumerate(keys)}
    out = np.empty((reps.shape[0], len(keys)))
    for key in keys:
        if key in correlated:
            continue
        out[:, column[key]] = lhs_uniforms(seed, total, key)[reps] if sampling == "lhs" else independent_uniforms(seed, reps, key)
    every_row = np.arange(total, dtype=np.int64)
    for members, target in groups:
        whole = np.column_stack(
            [lhs_uniforms(seed, total, key) if sampling == "lhs" else independent_uniforms(seed, every_row, key) for key in members]
        )
        whole = iman_conover(whole, target, seed, members)
        for i, key in enumerate(members):
            out[:, column[key]] = whole[reps, i]
    return out
