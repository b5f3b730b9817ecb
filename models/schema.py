"""Typed configuration schema, registered in Hydra's ConfigStore.

Fields typed ``Any`` are *uncertain inputs*: a number or a distribution mapping
(see :mod:`models.distributions`), sampled once per replication. Fields typed
:class:`EventDist` are *per-event* random quantities (durations, drops) given by
family, mean and coefficient of variation; their mean may itself be uncertain.

Defaults here are neutral (zero cost, team-owned, no randomness): the figures
with sources live in the YAML files under ``configs/``.

Every numeric field has an allowed range in :mod:`models.validate` (``SCENARIO_RANGES``,
``MODEL_RANGES``): a natural bound (a share in [0, 1]) or a generous, finite cap per unit
kind (e.g. at most 1e6 USD per hour, 1e6 hours, 1e15 million tokens), so that no product
of inputs overflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class EventDist:
    """A per-event random quantity: ``family`` in fixed | exponential | lognormal | uniform."""

    family: str = "fixed"
    mean: Any = 0.0
    cv: float = 0.0


@dataclass
class SeverityMix:
    """Incident severities (sev1, sev2, sev3): probability, downtime share, MTTR multiplier."""

    probabilities: list[float] = field(default_factory=lambda: [0.1, 0.3, 0.6])
    downtime_fraction: list[float] = field(default_factory=lambda: [1.0, 0.3, 0.0])
    mttr_multiplier: list[float] = field(default_factory=lambda: [2.0, 1.0, 0.5])


@dataclass
class GpuClassFigures:
    """One figure per serving GPU class: ``h100``, ``a100``, ``a10g``, ``l4``."""

    h100: Any = 0.0
    a100: Any = 0.0
    a10g: Any = 0.0
    l4: Any = 0.0


GPU_CLASSES = tuple(f.name for f in fields(GpuClassFigures))  # serving.gpu_class codes are positions here
CHEAPEST_GPU_CLASS = "cheapest"  # serving.gpu_class: whichever class costs least for each deployment-year's load (code len(GPU_CLASSES))


@dataclass
class ScenarioConfig:
    """The world: what happens to the organisation whatever it buys."""

    name: str = "default"
    adapters: int = 5
    regulated_share: Any = 0.0  # share of adapters on regulated data, [0, 1]
    refresh_interval_days: float = 90.0  # days between scheduled refreshes; 0 = none
    refresh_stagger: bool = True  # spread adapters' schedules over the interval
    arrivals: str = "poisson"  # poisson | deterministic (every 1/rate exactly)
    drift_rate_per_adapter_year: Any = 0.0  # drift events per adapter per year
    drift_quality_drop: EventDist = field(default_factory=lambda: EventDist("fixed", 1.0, 0.0))  # quality points
    staleness_usd_per_point_day: Any = 0.0  # business cost of one quality point lost for a day
    downtime_usd_per_adapter_hour: Any = 0.0  # business cost of one adapter's full outage for an hour
    base_model_releases_per_year: Any = 0.0
    tokens_per_adapter_month_m: Any = 0.0  # inference tokens, millions per adapter per month
    token_growth_per_year: Any = 0.0  # fractional growth of traffic per year
    training_tokens_per_run_m: Any = 0.0  # dataset tokens x epochs, millions
    incident_rate_per_deployment_year: Any = 0.0
    incident_severity: SeverityMix = field(default_factory=SeverityMix)
    after_hours_share: Any = 0.0  # share of incidents outside working hours
    engineers: int = 1  # ML engineers who can do pipeline and on-call work
    reviewers: int = 1  # compliance reviewers
    engineer_hours_per_day: float = 6.0  # productive hours per engineer per day
    reviewer_hours_per_day: float = 6.0
    working_hours_per_year: float = 1800.0  # converts loaded annual cost to an hourly rate
    engineer_loaded_annual_usd: Any = 0.0
    reviewer_loaded_annual_usd: Any = 0.0
    gpu_reserved_usd_per_hour: Any = 0.0  # reserved / committed training-pool GPU-hour (H100 class)
    gpu_on_demand_usd_per_hour: Any = 0.0
    gpu_spot_usd_per_hour: Any = 0.0
    storage_usd_per_gb_month: Any = 0.0
    # serving GPUs, by class: price of an always-on GPU-hour, and throughput relative to the H100
    serving_gpu_usd_per_hour: GpuClassFigures = field(default_factory=GpuClassFigures)
    serving_gpu_relative_throughput: GpuClassFigures = field(default_factory=lambda: GpuClassFigures(1.0, 1.0, 1.0, 1.0))
    # what the organisation already has: a model books only what it adds beyond it
    existing_platform_fte: Any = 0.0  # platform engineers already employed who can take on this work, FTE
    existing_staff_cost_share: Any = 1.0  # share of their cost counted against this decision: 0 sunk, 1 fully counted
    existing_reserved_gpus: Any = 0.0  # training-pool GPUs already reserved and paid for (whole GPUs)
    existing_monitoring_share: Any = 0.0  # share of a model's monitoring (build and running cost) already in place
    discount_rate: float = 0.0  # annual, for NPV


@dataclass
class TrainingConfig:
    owner: str = "team"  # team (own GPU pool) | vendor (fee per token, vendor turnaround)
    data_prep_hours: EventDist = field(default_factory=EventDist)  # engineer hours per refresh
    gpu_hours: EventDist = field(default_factory=EventDist)  # GPU-hours per training attempt (team)
    failure_prob: Any = 0.0  # per attempt; a failure wastes the work done so far, then retries
    checkpoint_interval_hours: float = 0.5  # spot preemption loses work since the last checkpoint
    checkpoint_gb: float = 0.0  # stored per successful run
    retention_runs: int = 3  # checkpoints kept per adapter
    vendor_usd_per_1m_tokens: Any = 0.0  # vendor training fee per million training tokens
    vendor_turnaround_days: EventDist = field(default_factory=EventDist)


@dataclass
class GpuPoolConfig:
    reserved: int = 0  # GPUs reserved for the pool, billed whether busy or not (existing reserved GPUs count first)
    burst_max: int = 0  # extra GPUs billed per use when all reserved are busy
    burst_tier: str = "on_demand"  # on_demand | spot
    spot_preemptions_per_gpu_hour: Any = 0.0


@dataclass
class EvaluationConfig:
    gpu_hours: EventDist = field(default_factory=EventDist)  # per evaluation, on the GPU pool
    engineer_hours: EventDist = field(default_factory=EventDist)
    failure_prob: Any = 0.0  # failed evaluation sends the refresh back to training
    vendor_usd_per_run: Any = 0.0  # evaluation run on vendor tooling


@dataclass
class ServingConfig:
    owner: str = "team"  # team | vendor; the owner also takes serving incidents
    mode: str = "dedicated"  # dedicated (one deployment per adapter) | shared (multi-adapter base)
    gpu_class: str = "h100"  # serving GPU class (team): h100 | a100 | a10g | l4 | cheapest (per deployment-year), priced by the scenario
    tokens_per_gpu_hour_m: Any = 1.0  # sustained throughput on an H100, million tokens per GPU-hour (team)
    target_utilization: float = 0.6  # headroom kept on serving GPUs (team)
    min_replicas: int = 1  # always-on replicas per deployment: the redundancy choice, 1 or 2 (team)
    scale_to_zero: bool = False  # a deployment whose load needs less than one replica runs only while busy (team)
    adapters_per_deployment: int = 1  # shared mode: adapters packed on one base deployment
    vendor_usd_per_1m_tokens: Any = 0.0
    vendor_usd_per_deployment_hour: Any = 0.0  # hosting fee per deployment, used or not
    sla_uptime: float = 0.999  # monthly uptime the vendor promises
    sla_credit_fraction: float = 0.0  # share of the month's inference fee credited on a breach


@dataclass
class OncallConfig:
    incident_rate_multiplier: Any = 1.0  # scales the world's incident rate per deployment
    mttr_hours: EventDist = field(default_factory=EventDist)  # time to resolve (team or vendor)
    after_hours_multiplier: float = 1.0  # labour premium on incidents outside hours
    escalation_hours: Any = 0.0  # team hours per vendor-owned incident


@dataclass
class PlatformConfig:
    base_fte: Any = 0.0  # platform engineering FTE at one adapter
    fte_per_adapter: Any = 0.0
    max_fte: Any = 0.0
    monitoring_build_usd: Any = 0.0  # one-time, year 0
    monitoring_usd_per_year: Any = 0.0
    detection_delay_days: EventDist = field(default_factory=EventDist)  # drift to detection
    vendor_platform_usd_per_year: Any = 0.0


@dataclass
class ComplianceConfig:
    review_hours: EventDist = field(default_factory=EventDist)  # reviewer hours per promotion of a regulated adapter
    rejection_prob: Any = 0.0  # rejection sends the refresh to rework, then review again
    rework_hours: EventDist = field(default_factory=EventDist)  # engineer hours
    annual_audit_hours: Any = 0.0  # reviewer hours per year when any adapter is regulated


@dataclass
class BaseModelConfig:
    response_probability: Any = 0.0  # chance a release forces a retrain (team) or a migration (vendor deprecation)
    migration_hours_per_adapter: Any = 0.0  # engineer hours added to each forced refresh


@dataclass
class PromotionConfig:
    bad_rollout_prob: Any = 0.0  # promotion goes wrong: incident, rollback, new refresh
    rollback_hours: EventDist = field(default_factory=EventDist)  # engineer hours, degraded service meanwhile


@dataclass
class OperatingModelConfig:
    """One row of the responsibility table: who does what, at what price and speed."""

    label: str = ""
    training: TrainingConfig = field(default_factory=TrainingConfig)
    gpu_pool: GpuPoolConfig = field(default_factory=GpuPoolConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    serving: ServingConfig = field(default_factory=ServingConfig)
    oncall: OncallConfig = field(default_factory=OncallConfig)
    platform: PlatformConfig = field(default_factory=PlatformConfig)
    compliance: ComplianceConfig = field(default_factory=ComplianceConfig)
    base_model: BaseModelConfig = field(default_factory=BaseModelConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)


@dataclass
class EngineConfig:
    name: str = "numba"  # numba (fast, default) | simpy (reference, traceable)
    max_events_per_replication: int = 5_000_000  # safety stop, flagged, never hangs; at most 5e7: a memory ceiling (docs/model.md §10)
    threads: int = 0  # numba threads; 0 = all cores (results do not depend on it)
    allow_truncated: bool = False  # keep a run in which more than sim.run.results.TRUNCATION_LIMIT of replications hit the event cap


@dataclass
class OutputConfig:
    charts: bool = True  # the standard chart set (and a study's charts) in the run folder
    chart_formats: list[str] = field(default_factory=lambda: ["png"])  # png (200 dpi), svg, pdf: vector formats cost ~1 s per chart
    year_in_the_life: bool = True  # trace replication 0 on the SimPy engine for the timeline chart
    deck: bool = False  # also write results.pptx: title, assumptions, summary, one chart per slide (lora-tco[exports])
    excel: bool = False  # also write results.xlsx: summary, ledger by category and year, metrics, assumptions
    print_summary: bool = True
    progress: bool = True  # long runs report replications done, rate and ETA on stderr (results do not depend on it)


@dataclass
class RankCorrelationConfig:
    """A target Spearman rank correlation between two uncertain inputs.

    Inputs are named by their draw key: ``scenario.<path>`` or
    ``operating_model.<path>`` *without* the model's name (the draw every
    operating model shares), e.g. ``scenario.gpu_on_demand_usd_per_hour``.
    """

    between: list[str] = field(default_factory=list)  # exactly two draw keys
    rho: float = 0.0  # Spearman rank correlation in [-1, 1]


@dataclass
class InputsConfig:
    """How the uncertain inputs are sampled across replications (see :mod:`models.inputs`)."""

    sampling: str = "independent"  # independent (keyed uniforms) | lhs (Latin hypercube over the replications)
    rank_correlations: list[RankCorrelationConfig] = field(default_factory=list)  # imposed by Iman-Conover


@dataclass
class StudyConfig:
    """What ``lora-tco`` runs: one comparison (``none``) or a study over many runs.

    In a Hydra multirun (``-m``) the launcher does the sweeping, so ``break_even`` and
    ``decision_map`` jobs each run one point (``lora-tco-report`` joins them), while
    ``sensitivity`` and ``article_table`` run whole in every job.
    """

    kind: str = "none"  # none | break_even | decision_map | sensitivity | article_table | article_decision_table
    parameter: str = "scenario.adapters"  # swept config path (break_even; x of decision_map)
    values: list[float] = field(default_factory=list)  # its grid, increasing
    y_parameter: str = "scenario.refresh_interval_days"  # decision_map: the second parameter
    y_values: list[float] = field(default_factory=list)
    a: str = "self_managed_lora"  # break_even / sensitivity: the difference a - b
    b: str = "managed_finetune"
    confidence: float = 0.9  # break_even: two-sided level of the CI on the crossing
    sobol_samples: int = 256  # sensitivity: Saltelli base samples (a power of 2)


@dataclass
class Config:
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    operating_model: dict[str, OperatingModelConfig] = field(default_factory=dict)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    replications: int = 1000
    horizon_years: int = 5
    seed: int = 20261129
    # "i/n": run only shard i (0-based) of n, the contiguous block np.array_split(range(replications), n)[i];
    # "" runs them all. Shards of one run merge into exactly the unsharded result (lora-tco-merge).
    shard: str = ""


def register_configs() -> None:
    """Register the schema so ``configs/config.yaml`` can extend it (idempotent)."""
    cs = ConfigStore.instance()
    cs.store(name="lora_tco_schema", node=Config)
