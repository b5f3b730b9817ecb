"""Randomness keyed by identity (design §2).

Every random number in lora-tco is a pure function of
``(master seed, replication, stream, entity, occurrence)``: for example the
training time of the 3rd training attempt of adapter 7 in replication 12 is
``keyed_uniform(seed, 12, Stream.TRAIN_WORK, 7, 3)`` pushed through an inverse
CDF. Nothing carries generator state, so results cannot depend on thread count,
chunking, sharding or on which operating model asked first: the world is
identical across operating models by construction.

The hash is SplitMix64's finalizer applied to each key word in turn. These
functions are numba-compiled (:func:`sim.core.jit.cached_njit`) so the SimPy reference
engine and the numba kernels call the very same code.
"""

from __future__ import annotations

import math

import numpy as np

from sim.core.jit import cached_njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53


class Stream:
    """Identifiers of the random processes: the ``stream`` word of a key.

    Values are part of the reproducibility contract: renumbering one changes
    every result that depends on it.
    """

    INPUT = 1  # per-replication input sample; entity = parameter id
    REGULATED = 2  # is adapter i regulated
    DRIFT_GAP = 3  # k-th drift inter-arrival of adapter i
    DRIFT_DROP = 4  # quality drop of k-th drift of adapter i
    DETECTION_DELAY = 5  # detection delay of k-th drift of adapter i
    RELEASE_GAP = 6  # k-th base-model release inter-arrival
    RELEASE_RESPONSE = 7  # does release k force a retrain / migration
    INCIDENT_GAP = 8  # k-th incident inter-arrival of deployment d
    INCIDENT_SEVERITY = 9
    INCIDENT_MTTR = 10
    INCIDENT_AFTER_HOURS = 11
    DATA_PREP = 12  # k-th refresh of adapter i
    TRAIN_WORK = 13  # k-th training attempt of adapter i
    TRAIN_FAIL = 14
    TRAIN_FAIL_POINT = 15
    SPOT_PREEMPT = 16  # k-th spot segment of adapter i
    VENDOR_TURNAROUND = 17
    EVAL_GPU = 18  # k-th evaluation of adapter i
    EVAL_HOURS = 19
    EVAL_FAIL = 20
    REVIEW_HOURS = 21  # k-th review of adapter i
    REVIEW_REJECT = 22
    REWORK_HOURS = 23
    ROLLOUT_BAD = 24  # k-th promotion of adapter i
    ROLLBACK_HOURS = 25
    INPUT_CORRELATION = 26  # rank-correlation scores of the input layer


@cached_njit(inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@cached_njit(inline="always")
def _absorb(h, word):
    """One hash step: mix one more key word into the state (as :func:`keyed_bits` does)."""
    return _mix(h ^ (np.uint64(word) + _GOLDEN))


@cached_njit()
def keyed_bits(seed, replication, stream, entity, occurrence):
    """64 random bits that depend only on the five key words."""
    h = _mix(np.uint64(seed) + _GOLDEN)
    h = _mix(h ^ (np.uint64(replication) + _GOLDEN))
    h = _mix(h ^ (np.uint64(stream) + _GOLDEN))
    h = _mix(h ^ (np.uint64(entity) + _GOLDEN))
    return _mix(h ^ (np.uint64(occurrence) + _GOLDEN))


@cached_njit()
def key_prefixes(seed, replication, n_streams, n_entities):
    """The hash state after the first four key words, for every ``(stream, entity)``.

    ``prefixed_uniform(prefixes[stream, entity], occurrence)`` equals
    ``keyed_uniform(seed, replication, stream, entity, occurrence)`` bit for bit, for
    one hash step instead of five: the fast engine draws this way.

    Returns
    -------
    ndarray of uint64, shape ``(n_streams, n_entities)``
    """
    out = np.empty((n_streams, n_entities), np.uint64)
    h = _absorb(_mix(np.uint64(seed) + _GOLDEN), replication)
    for stream in range(n_streams):
        hs = _absorb(h, stream)
        for entity in range(n_entities):
            out[stream, entity] = _absorb(hs, entity)
    return out


@cached_njit(inline="always")
def prefixed_uniform(prefix, occurrence):
    """:func:`keyed_uniform` from a key prefix (:func:`key_prefixes`) and the occurrence."""
    return (float(_absorb(prefix, occurrence) >> _S11) + 0.5) * _TWO_M53


@cached_njit()
def keyed_uniform(seed, replication, stream, entity, occurrence):
    """A uniform variate on the open interval (0, 1) for one key.

    Returns
    -------
    float
        ``(top 53 bits + 0.5) * 2**-53``: never exactly 0 or 1, so inverse
        CDFs stay finite.
    """
    bits = keyed_bits(seed, replication, stream, entity, occurrence)
    return (float(bits >> _S11) + 0.5) * _TWO_M53


@cached_njit()
def keyed_uniforms(seed, replications, stream, entity, occurrence):
    """Vectorised :func:`keyed_uniform` over an array of replication indices."""
    out = np.empty(replications.shape[0])
    for j in range(replications.shape[0]):
        out[j] = keyed_uniform(seed, replications[j], stream, entity, occurrence)
    return out


@cached_njit()
def norm_ppf(p):
    """Standard normal inverse CDF (Wichura 1988, AS 241, ~1e-16 relative)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (
            (
                (
                    (((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r + 45921.953931549871457) * r
                    + 13731.693765509461125
                )
                * r
                + 1971.5909503065514427
            )
            * r
            + 133.14166789178437745
        ) * r + 3.387132872796366608
        den = (
            (
                (
                    (((5226.495278852545925 * r + 28729.085735721942674) * r + 39307.89580009271061) * r + 21213.794301586595867) * r
                    + 5394.1960214247511077
                )
                * r
                + 687.1870074920579083
            )
            * r
            + 42.313330701600911252
        ) * r + 1.0
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (
            (
                (
                    (((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r + 0.24178072517745061177) * r + 1.27045825245236838258)
                    * r
                    + 3.64784832476320460504
                )
                * r
                + 5.7694972214606914055
            )
            * r
            + 4.6303378461565452959
        ) * r + 1.42343711074968357734
        den = (
            (
                (
                    (
                        ((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r
                        + 0.14810397642748007459
                    )
                    * r
                    + 0.68976733498510000455
                )
                * r
                + 1.6763848301838038494
            )
            * r
            + 2.05319162663775882187
        ) * r + 1.0
    else:
        r -= 5.0
        num = (
            (
                (
                    (
                        ((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r
                        + 0.026532189526576123093
                    )
                    * r
                    + 0.29656057182850489123
                )
                * r
                + 1.7848265399172913358
            )
            * r
            + 5.4637849111641143699
        ) * r + 6.6579046435011037772
        den = (
            (
                (
                    (
                        ((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r
                        + 7.868691311456132591e-4
                    )
                    * r
                    + 0.0148753612908506148525
                )
                * r
                + 0.13692988092273580531
            )
            * r
            + 0.59983220655588793769
        ) * r + 1.0
    x = num / den
    return -x if q < 0.0 else x


# Families of per-event random quantities (durations, drops). Codes are shared
# with the compiled parameter arrays, hence plain integers.
FIXED = 0
EXPONENTIAL = 1
LOGNORMAL = 2
UNIFORM = 3

FAMILY_CODES = {"fixed": FIXED, "exponential": EXPONENTIAL, "lognormal": LOGNORMAL, "uniform": UNIFORM}


@cached_njit(inline="always")
def lognormal_shape(cv):
    """``(sigma, sigma**2 / 2)`` of the lognormal with coefficient of variation ``cv``."""
    s2 = math.log1p(cv * cv)
    return math.sqrt(s2), 0.5 * s2


@cached_njit(inline="always")
def event_ppf_shaped(family, mean, cv, sigma, half_s2, u):
    """:func:`event_ppf` with the lognormal shape precomputed (``lognormal_shape(cv)``).

    The fast engine computes the shape once per replication; the arithmetic is the
    same, so the result is bit-identical.
    """
    if family == FIXED or mean <= 0.0:
        return mean
    if family == EXPONENTIAL:
        return -mean * math.log1p(-u)
    if family == LOGNORMAL:
        if cv <= 0.0:
            return mean
        return mean * math.exp(sigma * norm_ppf(u) - half_s2)
    half = mean * cv * math.sqrt(3.0)
    return mean - half + 2.0 * half * u


@cached_njit()
def event_ppf(family, mean, cv, u):
    """Inverse CDF of a per-event quantity given its family, mean and CV.

    Parameters
    ----------
    family : int
        One of ``FIXED``, ``EXPONENTIAL``, ``LOGNORMAL``, ``UNIFORM``.
    mean : float
        Mean of the quantity (>= 0).
    cv : float
        Coefficient of variation (ignored for fixed and exponential; the
        uniform needs cv <= 1/sqrt(3) to stay non-negative).
    u : float
        Uniform variate on (0, 1).
    """
    sigma, half_s2 = lognormal_shape(cv)
    return event_ppf_shaped(family, mean, cv, sigma, half_s2, u)


@cached_njit()
def keyed_event(seed, replication, stream, entity, occurrence, family, mean, cv):
    """Draw one per-event quantity for one key (see :func:`event_ppf`)."""
    if family == FIXED:
        return mean
    return event_ppf(family, mean, cv, keyed_uniform(seed, replication, stream, entity, occurrence))


@cached_njit()
def arrival_gap(u, rate_per_year, deterministic):
    """Days to the next arrival of a process with ``rate_per_year`` events a year:
    exponential from uniform ``u``, or exactly ``365 / rate`` when deterministic."""
    if deterministic:
        return 365.0 / rate_per_year
    return -math.log1p(-u) * 365.0 / rate_per_year


@cached_njit()
def exponential_time(u, rate):
    """Exponential variate with ``rate`` (per unit time) from uniform ``u``."""
    return -math.log1p(-u) / rate


def stable_id(name: str) -> int:
    """A 63-bit identifier of a name (FNV-1a), stable across runs and machines.

    Used as the ``entity`` word for input parameters, so that a parameter is
    keyed by its name, not by its position in a list.
    """
    h = 0xCBF29CE484222325
    for byte in name.encode():
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h & 0x7FFFFFFFFFFFFFFF
