"""Keyed random numbers and distributions.

Statistical checks use Kolmogorov-Smirnov at alpha = 1e-4 (the false-alarm rate
of each such check) through :func:`models.distributions.check_samples`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from models.distributions import check_samples, parse_uncertain
from models.errors import ConfigError
from sim.core.rng import (
    EXPONENTIAL,
    FIXED,
    LOGNORMAL,
    UNIFORM,
    Stream,
    event_ppf,
    key_prefixes,
    keyed_bits,
    keyed_uniform,
    keyed_uniforms,
    norm_ppf,
    prefixed_uniform,
    stable_id,
)

N = 20_000


def test_keyed_uniform_is_a_pure_function_of_its_key():
    a = keyed_uniform(42, 7, Stream.TRAIN_WORK, 3, 11)
    assert a == keyed_uniform(42, 7, Stream.TRAIN_WORK, 3, 11)
    others = [
        keyed_uniform(43, 7, Stream.TRAIN_WORK, 3, 11),
        keyed_uniform(42, 8, Stream.TRAIN_WORK, 3, 11),
        keyed_uniform(42, 7, Stream.TRAIN_FAIL, 3, 11),
        keyed_uniform(42, 7, Stream.TRAIN_WORK, 4, 11),
        keyed_uniform(42, 7, Stream.TRAIN_WORK, 3, 12),
    ]
    assert all(0.0 < u < 1.0 for u in [a, *others])
    assert len({a, *others}) == 6, "changing any key word must change the number"


def test_plain_and_jitted_generators_agree_bit_for_bit():
    keys = [(0, 0, 1, 0, 0), (2**63 - 1, 10**9, 26, 2**62, 12345), (20261129, 3, 13, 7, 2)]
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps by design
        for key in keys:
            assert keyed_bits(*key) == keyed_bits.py_func(*key)
            assert keyed_uniform(*key) == keyed_uniform.py_func(*key)
    for p in (1e-300, 1e-10, 0.02425, 0.3, 0.5, 0.97575, 1 - 1e-12):
        assert norm_ppf(p) == norm_ppf.py_func(p)


def test_prefixed_draws_equal_keyed_draws_bit_for_bit():
    # the fast engine hashes the first four key words once per replication
    for seed, rep in ((0, 0), (20261129, 3), (2**63 - 1, 10**9)):
        prefixes = key_prefixes(seed, rep, 27, 5)
        assert prefixes.shape == (27, 5) and prefixes.dtype == np.uint64
        for stream in (1, 13, 26):
            for entity in range(5):
                for occurrence in (0, 1, 7, 2**40):
                    expected = keyed_uniform(seed, rep, stream, entity, occurrence)
                    assert prefixed_uniform(prefixes[stream, entity], occurrence) == expected
    assert len(set(key_prefixes(1, 2, 27, 5).ravel().tolist())) == 27 * 5


def test_vectorised_uniforms_equal_scalar_ones():
    reps = np.arange(50, dtype=np.int64)
    vector = keyed_uniforms(9, reps, Stream.INPUT, 5, 0)
    assert np.array_equal(vector, [keyed_uniform(9, r, Stream.INPUT, 5, 0) for r in reps])


def test_keyed_uniforms_are_uniform_and_uncorrelated_across_streams():
    reps = np.arange(N, dtype=np.int64)
    u = keyed_uniforms(1, reps, Stream.DRIFT_GAP, 0, 0)
    v = keyed_uniforms(1, reps, Stream.DRIFT_DROP, 0, 0)
    w = np.array([keyed_uniform(1, 0, Stream.DRIFT_GAP, 0, k) for k in range(N)])  # along occurrences
    for sample in (u, v, w):
        assert stats.kstest(sample, "uniform").pvalue > 1e-4
    # Correlation of independent uniforms has SE 1/sqrt(N): 4 SE bound (false alarm ~6e-5).
    assert abs(np.corrcoef(u, v)[0, 1]) < 4 / math.sqrt(N)
    assert abs(np.corrcoef(w[:-1], w[1:])[0, 1]) < 4 / math.sqrt(N - 1)


def test_norm_ppf_matches_scipy():
    p = np.concatenate([np.logspace(-300, -1, 200), np.linspace(0.01, 0.99, 500), 1 - np.logspace(-15, -1, 100)])
    ours = np.array([norm_ppf(x) for x in p])
    np.testing.assert_allclose(ours, special.ndtri(p), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize(
    ("family", "mean", "cv", "reference"),
    [
        (EXPONENTIAL, 3.0, 1.0, stats.expon(scale=3.0)),
        (LOGNORMAL, 2.0, 0.5, stats.lognorm(math.sqrt(math.log1p(0.25)), scale=2.0 / math.sqrt(1.25))),
        (UNIFORM, 4.0, 0.25, stats.uniform(4.0 - 4.0 * 0.25 * math.sqrt(3), 2 * 4.0 * 0.25 * math.sqrt(3))),
    ],
)
def test_event_distributions_have_the_configured_law(family, mean, cv, reference):
    u = keyed_uniforms(3, np.arange(N, dtype=np.int64), Stream.TRAIN_WORK, 0, 0)
    x = np.array([event_ppf(family, mean, cv, ui) for ui in u])
    assert stats.kstest(x, reference.cdf).pvalue > 1e-4
    assert reference.mean() == pytest.approx(mean)
    if family != EXPONENTIAL:
        assert reference.std() / reference.mean() == pytest.approx(cv)
    # 4 SE on the mean (false alarm ~6e-5)
    assert abs(x.mean() - mean) < 4 * reference.std() / math.sqrt(N)


def test_fixed_event_ignores_the_variate():
    assert event_ppf(FIXED, 2.5, 0.7, 0.001) == 2.5 == event_ppf(FIXED, 2.5, 0.7, 0.999)


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "pert", "min": 1, "mode": 2, "max": 6},
        {"dist": "triangular", "min": 0, "mode": 1, "max": 4},
        {"dist": "uniform", "min": 2, "max": 3},
        {"dist": "lognormal", "median": 5, "sigma": 0.4},
        {"dist": "normal", "mean": 0.3, "sd": 0.2, "truncate_at_zero": True},
        {"dist": "normal", "mean": 10, "sd": 2},
        {"dist": "interval90", "low": 10, "high": 200},
        {"dist": "interval90", "low": -1, "high": 3},
        "pert(1,2,6)",
        "truncnormal(0.3,0.2)",
        3.5,
    ],
    ids=str,
)
def test_input_distributions_sample_as_declared(spec):
    dist = parse_uncertain("x", spec)
    samples = dist.ppf(keyed_uniforms(5, np.arange(N, dtype=np.int64), Stream.INPUT, stable_id("x"), 0))
    check_samples(dist, samples)
    if not dist.is_degenerate:
        assert abs(samples.mean() - dist.mean) < 4 * math.sqrt(dist.var / N)


def test_pert_and_interval90_have_their_textbook_properties():
    pert = parse_uncertain("x", {"dist": "pert", "min": 1, "mode": 2, "max": 6})
    assert pert.mean == pytest.approx((1 + 4 * 2 + 6) / 6)
    interval = parse_uncertain("x", {"dist": "interval90", "low": 10, "high": 200})
    assert interval.quantile(0.05) == pytest.approx(10) and interval.quantile(0.95) == pytest.approx(200)
    symmetric = parse_uncertain("x", {"dist": "interval90", "low": -1, "high": 3})
    assert symmetric.quantile(0.05) == pytest.approx(-1) and symmetric.quantile(0.95) == pytest.approx(3)


def test_truncated_normal_never_goes_negative():
    dist = parse_uncertain("x", {"dist": "normal", "mean": 0.1, "sd": 0.5, "truncate_at_zero": True})
    assert dist.quantile(0.0) == 0.0
    assert dist.ppf(np.linspace(0.001, 0.999, 50)).min() >= 0.0


def test_check_samples_rejects_samples_of_another_law():
    dist = parse_uncertain("x", {"dist": "uniform", "min": 0, "max": 1})
    shifted = keyed_uniforms(5, np.arange(N, dtype=np.int64), Stream.INPUT, 1, 0) * 0.9
    with pytest.raises(AssertionError):
        check_samples(dist, shifted)


def test_stable_id_is_stable():
    assert stable_id("scenario.adapters") == stable_id("scenario.adapters")
    assert stable_id("a") != stable_id("b")
    assert stable_id("") == 0xCBF29CE484222325 & 0x7FFFFFFFFFFFFFFF  # FNV-1a offset basis


def test_malformed_compact_distribution_is_a_config_error():
    with pytest.raises(ConfigError, match=r"x = 'pert\(1,2\)': pert\(\.\.\.\) takes 3 numbers"):
        parse_uncertain("x", "pert(1,2)")
