"""Uncertain inputs: a scalar that is either a number or a distribution.

An uncertain input is sampled once per replication (it is part of the world).
In YAML it is written either as a plain number or as a mapping::

    engineer_loaded_annual_usd: {dist: pert, min: 150000, mode: 190000, max: 300000}
    gpu_hours: {dist: interval90, low: 0.25, high: 2.0}      # lognormal through a 90 % interval
    mttr_hours: {dist: lognormal, median: 4, sigma: 0.8}
    growth: {dist: normal, mean: 0.3, sd: 0.2, truncate_at_zero: true}
    platform_team_hired: {dist: choice, values: [0, 1], p: [0.4, 0.6]}  # discrete; p optional

or compactly as a string, handy on the command line where a mapping of another
kind cannot replace the configured one::

    lora-tco 'scenario.drift_rate_per_adapter_year="interval90(1,4)"'

(``fixed(v)``, ``pert(min,mode,max)``, ``triangular(min,mode,max)``,
``uniform(min,max)``, ``lognormal(median,sigma)``, ``normal(mean,sd)``,
``truncnormal(mean,sd)``, ``interval90(low,high)``, ``choice(v1:p1,v2:p2,...)``
and ``choice(v1,v2,...)`` with equal weights). Quote a compact ``choice`` on the
command line: Hydra reads an unquoted ``choice(...)`` as a sweep.

A ``choice`` is a discrete law (structural uncertainty: "the platform team must be
hired: 60 %"). Its values are sorted ascending, together with their probabilities,
so its inverse CDF is monotone in ``u`` and rank correlation acts on it as on any
other input.

Each distribution object knows its mean, variance and inverse CDF, so tests can
check samples against it (:func:`check_samples`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from models.errors import ConfigError

_Z95 = stats.norm.ppf(0.95)


@dataclass(frozen=True)
class InputDistribution:
    """Base class: a scipy distribution with its parameters, plus its description."""

    kind: str

    def law(self) -> tuple[Any, tuple, dict]:  # pragma: no cover - overridden
        """The scipy distribution and the shape arguments and ``loc`` / ``scale`` it takes."""
        raise TypeError("abstract")

    def frozen(self):
        """The frozen scipy distribution."""
        family, args, kwds = self.law()
        return family(*args, **kwds)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF at uniform variates ``u``."""
        # What a frozen distribution's ppf calls, without building one (most of the cost of
        # validating a config is scipy constructing frozen distributions).
        family, args, kwds = self.law()
        return np.asarray(family.ppf(u, *args, **kwds), dtype=float)

    @property
    def mean(self) -> float:
        family, args, kwds = self.law()
        return float(family.mean(*args, **kwds))

    @property
    def var(self) -> float:
        family, args, kwds = self.law()
        return float(family.var(*args, **kwds))

    @property
    def is_degenerate(self) -> bool:
        return False

    def quantile(self, q: float) -> float:
        return float(self.ppf(np.array([q]))[0])

    def quantiles(self, q: Sequence[float]) -> np.ndarray:
        """The inverse CDF at several levels in one call (one scipy distribution, not one per level).

        Overflow to ``inf`` and underflow to 0 are results here, not warnings: validation
        asks exactly whether extreme levels give them.
        """
        with np.errstate(over="ignore", under="ignore"):
            return self.ppf(np.asarray(q, dtype=float))


@dataclass(frozen=True)
class Fixed(InputDistribution):
    value: float = 0.0

    def ppf(self, u):
        return np.full(np.shape(u), float(self.value))

    @property
    def mean(self):
        return float(self.value)

    @property
    def var(self):
        return 0.0

    @property
    def is_degenerate(self):
        return True


@dataclass(frozen=True)
class Pert(InputDistribution):
    """Beta-PERT on [min, max] with the given mode and shape ``lamb`` (4 = classic)."""

    low: float = 0.0
    mode: float = 0.0
    high: float = 0.0
    lamb: float = 4.0

    def law(self):
        span = self.high - self.low
        a = 1.0 + self.lamb * (self.mode - self.low) / span
        b = 1.0 + self.lamb * (self.high - self.mode) / span
        return stats.beta, (a, b), {"loc": self.low, "scale": span}


@dataclass(frozen=True)
class Triangular(InputDistribution):
    low: float = 0.0
    mode: float = 0.0
    high: float = 0.0

    def law(self):
        span = self.high - self.low
        return stats.triang, ((self.mode - self.low) / span,), {"loc": self.low, "scale": span}


@dataclass(frozen=True)
class Uniform(InputDistribution):
    low: float = 0.0
    high: float = 0.0

    def law(self):
        return stats.uniform, (), {"loc": self.low, "scale": self.high - self.low}


@dataclass(frozen=True)
class Lognormal(InputDistribution):
    """Lognormal given its median and the sigma of its logarithm."""

    median: float = 1.0
    sigma: float = 0.0

    def law(self):
        return stats.lognorm, (self.sigma,), {"scale": self.median}


@dataclass(frozen=True)
class Normal(InputDistribution):
    """Normal, optionally truncated at zero (for quantities that cannot be negative)."""

    mu: float = 0.0
    sd: float = 1.0
    truncate_at_zero: bool = False

    def law(self):
        if self.truncate_at_zero:
            return stats.truncnorm, ((0.0 - self.mu) / self.sd, np.inf), {"loc": self.mu, "scale": self.sd}
        return stats.norm, (self.mu, self.sd), {}


@dataclass(frozen=True)
class Choice(InputDistribution):
    """A discrete law: ``values`` (sorted ascending, distinct) with probabilities ``p``.

    The inverse CDF is ``values[searchsorted(cumsum(p), u, side="right")]`` (index
    clipped to the last value) with the cumulative sum's last element set to
    exactly 1, so ``quantile(0)`` is the smallest value and ``quantile(1)`` the
    largest. The mean and variance are those of that law.
    """

    values: tuple[float, ...] = ()
    p: tuple[float, ...] = ()

    def frozen(self):
        raise TypeError("a choice distribution has no scipy frozen form: use ppf, mean, var, probabilities")

    @property
    def cumulative(self) -> np.ndarray:
        """``cumsum(p)`` with its last element exactly 1."""
        cum = np.cumsum(np.asarray(self.p, dtype=float))
        cum[-1] = 1.0
        return cum

    @property
    def probabilities(self) -> np.ndarray:
        """The probability of each value under :meth:`ppf` (``p`` up to rounding of the last)."""
        return np.diff(self.cumulative, prepend=0.0)

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        index = np.minimum(np.searchsorted(self.cumulative, u, side="right"), len(self.values) - 1)
        return np.asarray(self.values, dtype=float)[index]

    @property
    def mean(self):
        return float(np.dot(self.probabilities, self.values))

    @property
    def var(self):
        values = np.asarray(self.values, dtype=float)
        return float(np.dot(self.probabilities, (values - self.mean) ** 2))


def _number(field: str, spec: Mapping, key: str, default: Any = None) -> float:
    if key not in spec:
        if default is not None:
            return default
        raise ConfigError(f"{field}.{key}", "missing", f"a {spec.get('dist')} distribution needs '{key}'")
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{field}.{key}", value, "must be a finite number")
    return float(value)


def _finite_list(field: str, value: Any, what: str) -> list[float]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(field, value, f"must be a non-empty list of {what}")
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ConfigError(field, value, f"must be a non-empty list of {what}")
    return [float(x) for x in value]


def _choice_parts(field: str, spec: Mapping) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Validated values and probabilities of a choice mapping, sorted by value."""
    if "values" not in spec:
        raise ConfigError(f"{field}.values", "missing", "a choice distribution needs 'values' (a list of numbers)")
    values = _finite_list(f"{field}.values", spec["values"], "distinct finite numbers")
    if len(set(values)) != len(values):
        raise ConfigError(f"{field}.values", spec["values"], "must be a non-empty list of distinct finite numbers (no value twice)")
    if "p" in spec:
        p = _finite_list(f"{field}.p", spec["p"], "probabilities in (0, 1] summing to 1, one per value")
        if len(p) != len(values):
            raise ConfigError(f"{field}.p", spec["p"], f"must have one probability per value ({len(values)}), in (0, 1] summing to 1")
        if not all(0.0 < q <= 1.0 for q in p):
            raise ConfigError(f"{field}.p", spec["p"], "each probability must be in (0, 1]; drop a value rather than give it 0")
        if abs(math.fsum(p) - 1.0) > 1e-9:
            raise ConfigError(f"{field}.p", spec["p"], f"must sum to 1 within 1e-9 (it sums to {math.fsum(p):.12g})")
    else:
        p = [1.0 / len(values)] * len(values)
    order = sorted(range(len(values)), key=values.__getitem__)
    return tuple(values[i] for i in order), tuple(p[i] for i in order)


_KEYS = {
    "fixed": {"value"},
    "pert": {"min", "mode", "max", "lamb"},
    "triangular": {"min", "mode", "max"},
    "uniform": {"min", "max"},
    "lognormal": {"median", "sigma"},
    "normal": {"mean", "sd", "truncate_at_zero"},
    "interval90": {"low", "high"},
    "choice": {"values", "p"},
}


_POSITIONAL = {
    "fixed": ("value",),
    "pert": ("min", "mode", "max"),
    "triangular": ("min", "mode", "max"),
    "uniform": ("min", "max"),
    "lognormal": ("median", "sigma"),
    "normal": ("mean", "sd"),
    "truncnormal": ("mean", "sd"),
    "interval90": ("low", "high"),
}


_CHOICE_FORMS = "choice(v1:p1,v2:p2,...), choice(v1,v2,...)"


def _parse_choice_compact(field: str, text: str, rest: str) -> dict:
    """``"choice(0:0.6,1:0.4)"`` -> ``{dist: choice, values: [0, 1], p: [0.6, 0.4]}``; no ``:p`` means equal weights."""
    items = [item.strip() for item in rest[:-1].split(",")]
    pairs = [item.partition(":") for item in items]
    with_p = {sep == ":" for _, sep, _ in pairs}
    if len(with_p) != 1:
        raise ConfigError(field, text, f"choice(...) takes value:probability pairs for every value or for none: {_CHOICE_FORMS}")
    try:
        values = [float(v) for v, _, _ in pairs]
        p = [float(q) for _, _, q in pairs] if with_p == {True} else None
    except ValueError:
        raise ConfigError(field, text, f"choice(...) takes numbers: {_CHOICE_FORMS}") from None
    return {"dist": "choice", "values": values} | ({} if p is None else {"p": p})


def _parse_compact(field: str, text: str) -> dict:
    """``"pert(1, 2, 4)"`` -> ``{dist: pert, min: 1, mode: 2, max: 4}``."""
    kind, _, rest = text.strip().partition("(")
    kind = kind.strip()
    if kind == "choice" and rest.endswith(")"):
        return _parse_choice_compact(field, text, rest)
    if kind not in _POSITIONAL or not rest.endswith(")"):
        forms = ", ".join(f"{k}({','.join(v)})" for k, v in _POSITIONAL.items())
        raise ConfigError(field, text, f"must be a number, a distribution mapping, or one of {forms}, {_CHOICE_FORMS}")
    try:
        numbers = [float(x) for x in rest[:-1].split(",")]
    except ValueError:
        raise ConfigError(field, text, f"{kind}(...) takes numbers: {kind}({', '.join(_POSITIONAL[kind])})") from None
    names = _POSITIONAL[kind] + (("lamb",) if kind == "pert" and len(numbers) == 4 else ())
    if len(numbers) != len(names):
        raise ConfigError(field, text, f"{kind}(...) takes {len(_POSITIONAL[kind])} numbers: {kind}({', '.join(_POSITIONAL[kind])})")
    spec: dict[str, Any] = {"dist": "normal" if kind == "truncnormal" else kind, **dict(zip(names, numbers, strict=True))}
    if kind == "truncnormal":
        spec["truncate_at_zero"] = True
    return spec


def to_compact(field: str, spec: Mapping) -> str:
    """The compact string form of a distribution mapping (``"pert(1,2,4)"``).

    Raises :class:`ConfigError` for an unknown kind, an unknown key or a missing key,
    exactly as :func:`parse_uncertain` would.
    """
    kind = spec.get("dist")
    if kind not in _KEYS:
        raise ConfigError(f"{field}.dist", kind, f"must be one of {', '.join(sorted(_KEYS))}")
    unknown = sorted(set(spec) - _KEYS[kind] - {"dist"})
    if unknown:
        allowed = ", ".join(sorted(_KEYS[kind]))
        raise ConfigError(f"{field}.{unknown[0]}", spec[unknown[0]], f"not a key of a {kind} distribution; allowed: {allowed}")
    if kind == "choice":
        values, p = _choice_parts(field, spec)
        if "p" not in spec:
            return f"choice({','.join(repr(v) for v in values)})"
        return f"choice({','.join(f'{v!r}:{q!r}' for v, q in zip(values, p, strict=True))})"
    names = _POSITIONAL[kind] + (("lamb",) if kind == "pert" and "lamb" in spec else ())
    numbers = [_number(field, spec, name) for name in names]
    if kind == "normal" and spec.get("truncate_at_zero", False):
        kind = "truncnormal"
    return f"{kind}({','.join(repr(x) for x in numbers)})"


def parse_uncertain(field: str, spec: Any) -> InputDistribution:
    """Turn a YAML value (number or distribution mapping) into a distribution.

    Raises
    ------
    ConfigError
        If the mapping is malformed (unknown kind or key, min > mode, negative
        sigma, ...). The message names ``field``.
    """
    if isinstance(spec, bool):
        raise ConfigError(field, spec, "must be a number or a distribution mapping")
    if isinstance(spec, (int, float)):
        if not math.isfinite(spec):
            raise ConfigError(field, spec, "must be a finite number")
        return Fixed("fixed", float(spec))
    if isinstance(spec, str):
        spec = _parse_compact(field, spec)
    if not isinstance(spec, Mapping):
        raise ConfigError(field, spec, "must be a number or a mapping such as {dist: pert, min: 1, mode: 2, max: 4}")
    kind = spec.get("dist")
    if kind not in _KEYS:
        raise ConfigError(f"{field}.dist", kind, f"must be one of {', '.join(sorted(_KEYS))}")
    unknown = set(spec) - _KEYS[kind] - {"dist"}
    if unknown:
        raise ConfigError(
            f"{field}.{sorted(unknown)[0]}",
            spec[sorted(unknown)[0]],
            f"not a key of a {kind} distribution; allowed: {', '.join(sorted(_KEYS[kind]))}"
            ' (on the command line, give another kind as a string, e.g. "uniform(1,3)")',
        )
    if kind == "fixed":
        return Fixed(kind, _number(field, spec, "value"))
    if kind == "choice":
        values, p = _choice_parts(field, spec)
        return Fixed(kind, values[0]) if len(values) == 1 else Choice(kind, values, p)
    if kind in ("pert", "triangular"):
        low, mode, high = (_number(field, spec, k) for k in ("min", "mode", "max"))
        if not low <= mode <= high:
            raise ConfigError(field, dict(spec), "needs min <= mode <= max")
        if low == high:
            return Fixed(kind, low)
        if kind == "triangular":
            return Triangular(kind, low, mode, high)
        lamb = _number(field, spec, "lamb", 4.0)
        if lamb <= 0:
            raise ConfigError(f"{field}.lamb", lamb, "must be > 0")
        return Pert(kind, low, mode, high, lamb)
    if kind == "uniform":
        low, high = _number(field, spec, "min"), _number(field, spec, "max")
        if low > high:
            raise ConfigError(field, dict(spec), "needs min <= max")
        return Fixed(kind, low) if low == high else Uniform(kind, low, high)
    if kind == "lognormal":
        median, sigma = _number(field, spec, "median"), _number(field, spec, "sigma")
        if median <= 0:
            raise ConfigError(f"{field}.median", median, "must be > 0")
        if sigma < 0:
            raise ConfigError(f"{field}.sigma", sigma, "must be >= 0")
        return Fixed(kind, median) if sigma == 0 else Lognormal(kind, median, sigma)
    if kind == "normal":
        mu, sd = _number(field, spec, "mean"), _number(field, spec, "sd")
        trunc = bool(spec.get("truncate_at_zero", False))
        if sd < 0:
            raise ConfigError(f"{field}.sd", sd, "must be >= 0")
        if sd == 0:
            return Fixed(kind, max(mu, 0.0) if trunc else mu)
        return Normal(kind, mu, sd, trunc)
    # interval90: a 90 % interval [low, high]; lognormal when low > 0, else normal.
    low, high = _number(field, spec, "low"), _number(field, spec, "high")
    if low > high:
        raise ConfigError(field, dict(spec), "needs low <= high")
    if low == high:
        return Fixed(kind, low)
    if low > 0:
        sigma = (math.log(high) - math.log(low)) / (2 * _Z95)
        return Lognormal(kind, math.sqrt(low * high), sigma)
    return Normal(kind, (low + high) / 2, (high - low) / (2 * _Z95), False)


def check_samples(dist: InputDistribution, samples: np.ndarray, alpha: float = 1e-4) -> float:
    """Goodness-of-fit test of samples against a distribution: Kolmogorov-Smirnov,
    or Pearson's chi-square over the values of a :class:`Choice` (KS does not suit
    a discrete law).

    Returns the p-value; raises ``AssertionError`` when it is below ``alpha``
    (so the false-alarm rate of a test that uses it is ``alpha``).
    """
    if dist.is_degenerate:
        assert np.all(samples == dist.mean), "degenerate distribution gave varying samples"
        return 1.0
    if isinstance(dist, Choice):
        samples = np.asarray(samples, dtype=float)
        values = np.asarray(dist.values)
        index = np.searchsorted(values, samples)
        inside = (index < len(values)) & (values[np.minimum(index, len(values) - 1)] == samples)
        assert inside.all(), f"samples not among the values of {dist}: {np.unique(samples[~inside])[:5]}"
        observed = np.bincount(index, minlength=len(values))
        p = float(stats.chisquare(observed, samples.size * dist.probabilities).pvalue)
        assert p >= alpha, f"samples do not follow {dist} (chi-square p = {p:.2e})"
        return p
    p = float(stats.kstest(samples, dist.frozen().cdf).pvalue)
    assert p >= alpha, f"samples do not follow {dist} (KS p = {p:.2e})"
    return p
