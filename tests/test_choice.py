"""The discrete ``choice`` input distribution: parsing, its inverse CDF at keyed
uniforms, Latin hypercube and rank correlation, validation, and sensitivity analysis.

Every test is seeded, hence deterministic. Statistical tolerances are 4 standard
errors: two-sided, about 6e-5 false alarms per check under normality (over seeds).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from models.compile import MV, SV, compile_config
from models.distributions import Choice, Fixed, check_samples, parse_uncertain, to_compact
from models.errors import ConfigError
from models.inputs import independent_uniforms
from models.validate import validate_config
from sim.analysis import sobol_indices, tornado
from tests.scenarios import config, operating_model

REGULATED = "scenario.regulated_share"
RESERVED = "scenario.gpu_reserved_usd_per_hour"
# Given unsorted on purpose: parsing sorts values together with their probabilities.
THREE = {"dist": "choice", "values": [1.0, 0.0, 0.5], "p": [0.5, 0.2, 0.3]}
HIRED = {"dist": "choice", "values": [0, 1], "p": [0.6, 0.4]}
PERT = {"dist": "pert", "min": 1.7, "mode": 2.35, "max": 3.9}


def choice_config(replications: int, seed: int = 3, sampling: str = "independent", rho: float | None = None, **scenario) -> dict:
    """One neutral operating model; ``scenario.regulated_share`` a choice and the
    reserved GPU price a PERT (or whatever ``scenario`` says)."""
    scenario.setdefault("regulated_share", HIRED)
    scenario.setdefault("gpu_reserved_usd_per_hour", PERT)
    cfg = config({"m": operating_model()}, replications=replications, seed=seed, **scenario)
    correlations = [] if rho is None else [{"between": [REGULATED, RESERVED], "rho": rho}]
    cfg["inputs"] = {"sampling": sampling, "rank_correlations": correlations}
    validate_config(cfg)
    return cfg


# -- parsing ---------------------------------------------------------------------------
def test_mapping_form_sorts_values_with_their_probabilities():
    dist = parse_uncertain("x", THREE)
    assert dist == Choice("choice", (0.0, 0.5, 1.0), (0.2, 0.3, 0.5))
    assert dist.mean == pytest.approx(0.5 * 0.3 + 1.0 * 0.5, rel=1e-15)
    assert dist.var == pytest.approx(0.2 * 0.65**2 + 0.3 * 0.15**2 + 0.5 * 0.35**2, rel=1e-12)
    assert (dist.quantile(0.0), dist.quantile(1.0)) == (0.0, 1.0)  # the support validation reads


def test_p_is_optional_and_means_equal_weights():
    dist = parse_uncertain("x", {"dist": "choice", "values": [3, 1, 2]})
    assert dist.values == (1.0, 2.0, 3.0)
    assert dist.probabilities == pytest.approx([1 / 3] * 3, rel=1e-15)
    assert dist.mean == pytest.approx(2.0) and dist.var == pytest.approx(2 / 3)


def test_compact_forms_parse_like_the_mapping():
    assert parse_uncertain("x", "choice(1:0.5, 0:0.2, 0.5:0.3)") == parse_uncertain("x", THREE)
    assert parse_uncertain("x", "choice(0,1)") == parse_uncertain("x", {"dist": "choice", "values": [1, 0]})
    assert parse_uncertain("x", "choice(-2.5:0.25,1e3:0.75)") == Choice("choice", (-2.5, 1000.0), (0.25, 0.75))


@pytest.mark.parametrize(
    "spec",
    [THREE, HIRED, {"dist": "choice", "values": [5, -1, 0.1]}, {"dist": "choice", "values": [0.1, 0.7], "p": [1 / 3, 2 / 3]}],
    ids=str,
)
def test_compact_form_round_trips(spec):
    text = to_compact("x", spec)
    assert text.startswith("choice(")
    assert parse_uncertain("x", text) == parse_uncertain("x", spec)


def test_a_single_value_is_fixed():
    assert parse_uncertain("x", {"dist": "choice", "values": [4], "p": [1.0]}) == Fixed("choice", 4.0)
    assert parse_uncertain("x", "choice(4)").is_degenerate


def test_ppf_is_the_discrete_inverse_cdf():
    dist = parse_uncertain("x", THREE)  # cumulative 0.2, 0.5, 1.0
    u = np.array([1e-12, 0.1999, 0.2, 0.4999, 0.5, 0.9999, 1 - 2**-53])
    assert np.array_equal(dist.ppf(u), [0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 1.0])
    assert dist.cumulative[-1] == 1.0
    # p may sum to 1 only within 1e-9: the last value takes the rest of (0, 1), and the
    # exact mean and variance are those of the law the ppf samples
    short = parse_uncertain("x", {"dist": "choice", "values": [0, 1, 2], "p": [0.1, 0.1, 0.8 - 1e-10]})
    assert short.ppf(np.array([1 - 1e-11]))[0] == 2.0
    assert short.probabilities.sum() == 1.0 and short.probabilities[-1] == pytest.approx(0.8, abs=1e-15)
    assert short.mean == pytest.approx(0.1 + 2 * 0.8, abs=1e-15)


# -- keyed sampling -----------------------------------------------------------------------
def test_compiled_frequencies_match_p():
    """Each value's frequency over R replications is within 4 binomial SE
    sqrt(p(1-p)/R) of p (two-sided 4 SE: about 6e-5 false alarms per check)."""
    n = 20_000
    cfg = choice_config(n, regulated_share=THREE)
    run = compile_config(cfg)
    column = run.scenario_values[:, SV["regulated_share"]]
    dist = run.input_keys[REGULATED]
    # keyed: exactly the inverse CDF at the keyed uniform of each replication index
    assert np.array_equal(column, dist.ppf(independent_uniforms(cfg["seed"], np.arange(n), REGULATED)))
    for value, p in zip(dist.values, dist.p, strict=True):
        frequency = np.mean(column == value)
        assert abs(frequency - p) < 4 * math.sqrt(p * (1 - p) / n), (value, frequency, p)
    check_samples(dist, column)  # chi-square, alpha 1e-4


def test_check_samples_uses_chi_square_for_a_choice():
    dist = parse_uncertain("x", HIRED)
    u = independent_uniforms(5, np.arange(10_000), "x")
    assert check_samples(dist, dist.ppf(u)) >= 1e-4
    wrong = parse_uncertain("x", {"dist": "choice", "values": [0, 1], "p": [0.55, 0.45]}).ppf(u)
    with pytest.raises(AssertionError, match="chi-square"):
        check_samples(dist, wrong)  # 0.05 off at n = 10,000 is 10 SE
    with pytest.raises(AssertionError, match="not among the values"):
        check_samples(dist, np.where(u < 0.5, 0.0, 0.5))


@pytest.mark.parametrize("sampling", ["independent", "lhs"])
def test_a_subset_of_replications_gives_the_same_rows(sampling):
    cfg = choice_config(60, sampling=sampling, regulated_share=THREE)
    full = compile_config(cfg)
    rows = np.array([41, 3, 17, 0, 59])
    part = compile_config(cfg, replications=rows)
    assert np.array_equal(part.scenario_values, full.scenario_values[rows])
    assert np.array_equal(part.uniforms, full.uniforms[rows])
    assert set(np.unique(full.scenario_values[:, SV["regulated_share"]])) == {0.0, 0.5, 1.0}


def test_latin_hypercube_stratifies_a_choice():
    """With one uniform per stratum [k/R, (k+1)/R), the number of rows at or below
    each value is R times its cumulative probability, to within one row."""
    n = 1000
    run = compile_config(choice_config(n, sampling="lhs", regulated_share=THREE))
    column = run.scenario_values[:, SV["regulated_share"]]
    dist = run.input_keys[REGULATED]
    for value, cumulative in zip(dist.values, dist.cumulative, strict=True):
        assert abs(np.sum(column <= value) - cumulative * n) <= 1, value


# -- rank correlation ----------------------------------------------------------------
def _binary_spearman(rho: float, q: float) -> float:
    """Spearman correlation, as n grows, of X = 1{U1 > 1 - q} and U2 under the
    Gaussian copula that Iman-Conover imposes (score correlation r = 2 sin(pi rho / 6)).

    The midranks of a 0/1 variable are linear in it, so the Spearman coefficient is
    Pearson's between X and F(Y) = Phi(Z2): Cov = E[1{Z1 > z0} Phi(a Z1)] - q / 2
    with a = r / sqrt(2 - r^2), and sd(Phi(Z2)) = 1 / sqrt(12). Ties bound it
    below the target (at most 0.85 for q = 0.4 even with the uniforms comonotone).
    """
    r = 2 * math.sin(math.pi * rho / 6)
    a = r / math.sqrt(2 - r * r)
    z0 = stats.norm.ppf(1 - q)
    joint = integrate.quad(lambda z: stats.norm.pdf(z) * stats.norm.cdf(a * z), z0, np.inf)[0]
    return (joint - q / 2) / math.sqrt(q * (1 - q) / 12)


@pytest.mark.parametrize("sampling", ["independent", "lhs"])
def test_rank_correlation_reaches_a_choice(sampling):
    """Target rho 0.8 between the choice (0/1, P(1) = 0.4) and a PERT input.

    Expected sample Spearman: _binary_spearman(0.8, 0.4) = 0.665 (ties make 0.8
    unreachable). Tolerance 4 / sqrt(n - 1): 1 / sqrt(n - 1) is the SD of a sample
    Spearman coefficient under independence, which bounds it for |rho| > 0, and
    Iman-Conover's exact decorrelation of the scores only lowers it (over 200 seeds
    at n = 2000 the SD was 0.009 at rho 0.8 and 0.014 at rho 0, against 0.022).
    """
    n = 2000
    tolerance = 4 / math.sqrt(n - 1)
    spearman = {}
    for rho in (0.0, 0.8):
        run = compile_config(choice_config(n, sampling=sampling, rho=rho))
        x = run.scenario_values[:, SV["regulated_share"]]
        y = run.scenario_values[:, SV["gpu_reserved_usd_per_hour"]]
        spearman[rho] = stats.spearmanr(x, y).statistic
        uncorrelated = compile_config(choice_config(n, sampling=sampling))
        # the correlation only reorders the draws: the choice's marginal is untouched
        assert np.array_equal(np.sort(x), np.sort(uncorrelated.scenario_values[:, SV["regulated_share"]]))
    assert abs(spearman[0.0]) < tolerance
    assert abs(spearman[0.8] - _binary_spearman(0.8, 0.4)) < tolerance, spearman
    assert spearman[0.8] - spearman[0.0] > math.sqrt(2) * tolerance  # 4 SE of a difference of two


# -- validation -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"dist": "choice", "values": [0, 1], "p": [0.6, 0.5]}, "scenario.regulated_share.p", "sum to 1"),
        ({"dist": "choice", "values": [0, 1], "p": [-0.2, 1.2]}, "scenario.regulated_share.p", "(0, 1]"),
        ({"dist": "choice", "values": [0, 0.5, 1], "p": [0.5, 0.5]}, "scenario.regulated_share.p", "one probability per value"),
        ({"dist": "choice", "values": [0, 1.5]}, "scenario.regulated_share", "[0, 1]"),
        ({"dist": "choice", "values": [0.2, 0.2]}, "scenario.regulated_share.values", "distinct"),
        ({"dist": "choice", "values": []}, "scenario.regulated_share.values", "non-empty"),
        ({"dist": "choice", "values": [0, "a"]}, "scenario.regulated_share.values", "finite numbers"),
        ({"dist": "choice", "p": [1.0]}, "scenario.regulated_share.values", "needs 'values'"),
        ({"dist": "choice", "values": [0, 1], "weights": [1, 1]}, "scenario.regulated_share.weights", "allowed: p, values"),
        ("choice(0:0.6,1)", "scenario.regulated_share", "every value or for none"),
        ("choice(0:0.6,1.5:0.4)", "scenario.regulated_share", "[0, 1]"),
    ],
    ids=str,
)
def test_bad_choice_is_a_one_line_config_error(spec, field, words):
    cfg = config({"m": operating_model()}, replications=2, regulated_share=spec)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    message = str(info.value)
    assert "\n" not in message
    assert info.value.field == field, message
    assert words in message, message


def test_unknown_compact_kind_lists_the_choice_forms():
    with pytest.raises(ConfigError, match=r"choice\(v1:p1,v2:p2,...\), choice\(v1,v2,...\)"):
        parse_uncertain("x", "choise(0,1)")


# -- sensitivity analysis --------------------------------------------------------------
FEE = {"dist": "choice", "values": [40_000, 0], "p": [0.4, 0.6]}  # a vendor platform: 40 %
BUILD = {"dist": "pert", "min": 0, "mode": 5_000, "max": 30_000}


def additive_config(replications: int) -> dict:
    """TCO = vendor platform fee (a choice) + monitoring build (a PERT), one year:
    tornado swings are quantile differences and Sobol indices are variance shares."""
    model = operating_model(
        platform__vendor_platform_usd_per_year=FEE,
        platform__monitoring_build_usd=BUILD,
        compliance__annual_audit_hours=0.0,
    )
    return config({"m": model}, replications=replications, horizon_years=1)


def test_tornado_includes_the_choice():
    frame = tornado(additive_config(50), "m").set_index("input")
    row = frame.loc["operating_model.platform.vendor_platform_usd_per_year"]
    assert (row["low_value"], row["high_value"]) == (0.0, 40_000.0)  # quantiles 0.1 and 0.9
    assert row["swing"] == pytest.approx(40_000.0, rel=1e-9)
    assert frame.index[0] == "operating_model.platform.vendor_platform_usd_per_year"  # the widest spread


def test_sobol_indices_include_the_choice():
    """S1 = ST = variance share for a sum of independent inputs; tolerance 4 SE with
    SE = SALib's 95 % bootstrap half-width / 1.96."""
    frame = sobol_indices(additive_config(1), "m", base_samples=512).set_index("input")
    fee, build = parse_uncertain("fee", FEE), parse_uncertain("build", BUILD)
    shares = {
        "operating_model.platform.vendor_platform_usd_per_year": fee.var / (fee.var + build.var),
        "operating_model.platform.monitoring_build_usd": build.var / (fee.var + build.var),
    }
    assert set(frame.index) == set(shares)
    for key, share in shares.items():
        for index in ("S1", "ST"):
            se = frame.loc[key, f"{index}_conf"] / stats.norm.ppf(0.975)
            assert abs(frame.loc[key, index] - share) < 4 * se + 1e-9, (key, index, frame.loc[key, index], share)
    assert frame.loc["operating_model.platform.vendor_platform_usd_per_year", "S1"] > 0.5  # share 0.94


def test_model_values_of_a_choice_follow_the_shared_key():
    cfg = additive_config(30)
    run = compile_config(cfg)
    key = "operating_model.platform.vendor_platform_usd_per_year"
    u = independent_uniforms(cfg["seed"], np.arange(30), key)
    assert np.array_equal(run.model_values[0, :, MV["platform.vendor_platform_usd_per_year"]], np.where(u < 0.6, 0.0, 40_000.0))


# -- shards and chunks -------------------------------------------------------------------------
@pytest.mark.parametrize("sampling", ["independent", "lhs"])
def test_a_sampled_structure_keeps_shards_and_chunks_bit_identical(sampling):
    """The existing platform team and reserved GPUs as choices: a shard and a chunked run
    give exactly the rows of the whole run."""
    import io

    import numba

    from sim import load_config
    from sim.engines.fast.kernel import run_kernel
    from sim.run import runner
    from sim.run.config import to_plain
    from sim.run.results import Results

    plain = to_plain(
        load_config(
            [
                "replications=48",
                "horizon_years=2",
                f"inputs.sampling={sampling}",
                'scenario.existing_platform_fte="choice(0:0.6,1:0.4)"',
                'scenario.existing_reserved_gpus="choice(0:0.5,2:0.5)"',
                "operating_model.self_managed_lora.gpu_pool.reserved=1",
            ]
        )
    )
    whole = runner.simulate(plain, progress=False)
    fte = whole.metrics.set_index("operating_model").loc["self_managed_lora", "platform_fte"]
    assert fte.nunique() > 1, "the choice must reach the booked platform FTE"
    blocks = np.array_split(np.arange(48), 3)
    joined = Results.concat([runner.simulate(plain, replications=block, progress=False) for block in blocks])
    assert np.array_equal(joined.costs, whole.costs) and np.array_equal(joined.metrics_array, whole.metrics_array)
    run = compile_config(plain)
    usd, out = runner._run_numba_chunked(run, numba.get_num_threads(), sizes=[5, 11], stream=io.StringIO())
    one_usd, one_out = run_kernel(run)
    assert np.array_equal(usd, one_usd) and np.array_equal(out, one_out)
