"""Words and numbers for every surface: charts, the workbook, the deck, the terminal and
the analysis tables' sentences.

Operating-model labels (from each model's ``label`` in ``configs/operating_model/``),
plain names for the usual swept parameters, and the one way each kind of number is
written: money (:func:`money` on slides and charts, :func:`usd_exact` in notes),
plain numbers (:func:`number`), percentages (:func:`percent`) and the USD unit of a
text table (:func:`usd_unit`). It lives in ``sim.core`` so the analysis layer speaks
the same words as the outputs; it imports nothing else of lora-tco but the packaged
config folder.
"""

from __future__ import annotations

import functools
import numbers
import re
from collections.abc import Sequence
from typing import Any

from omegaconf import OmegaConf

from sim.core.packaged import CONFIG_DIR

# The parameters planners sweep most, in the words of a budget meeting.
PARAMETER_LABELS = {
    "scenario.adapters": "adapters",
    "scenario.refresh_interval_days": "days between scheduled refreshes",
    "scenario.tokens_per_adapter_month_m": "M inference tokens per adapter-month",
    "scenario.regulated_share": "share of adapters on regulated data",
    "scenario.engineers": "ML engineers",
    "scenario.engineer_loaded_annual_usd": "loaded engineer cost (USD/year)",
    "scenario.gpu_reserved_usd_per_hour": "reserved GPU price (USD/hour)",
    "scenario.gpu_on_demand_usd_per_hour": "on-demand GPU price (USD/hour)",
    "scenario.drift_rate_per_adapter_year": "drift events per adapter-year",
    "scenario.training_tokens_per_run_m": "M training tokens per run",
    "scenario.existing_platform_fte": "platform engineers already employed (FTE)",
    "scenario.existing_staff_cost_share": "share of existing staff cost counted",
    "scenario.existing_reserved_gpus": "reserved GPUs already paid for",
    "scenario.existing_monitoring_share": "share of monitoring already in place",
    "scenario.downtime_usd_per_adapter_hour": "downtime cost (USD per adapter-hour)",
}

# Words of a snake_case name that are written as acronyms (or with their own casing).
ACRONYMS = {"tco": "TCO", "npv": "NPV", "gpu": "GPU", "lora": "LoRA", "sla": "SLA", "cvar": "CVaR", "p05": "p05", "p95": "p95"}


def readable(name: str) -> str:
    """A snake_case (or kebab-case) name as words: ``tco_distribution`` -> ``TCO distribution``."""
    words = [ACRONYMS.get(w.lower(), w) for w in re.split(r"[_\-\s]+", name) if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


@functools.lru_cache(maxsize=64)
def model_label(name: str) -> str:
    """``self_managed_lora`` -> ``Self-managed LoRA`` (the model file's ``label``), or a
    readable form of the name for a model that is not a packaged file."""
    path = CONFIG_DIR / "operating_model" / f"{name}.yaml"
    if path.exists():
        label = OmegaConf.select(OmegaConf.load(path), f"{name}.label", default=None)
        if label:
            return str(label)
    return readable(name)


def short_label(label: str) -> str:
    """A label without its parenthesised style note, so a sentence does not nest parentheses:
    ``Managed fine-tuning (OpenAI-enterprise style)`` -> ``Managed fine-tuning``."""
    return re.sub(r"\s*\(.*\)\s*$", "", label) or label


def short_model_label(name: str) -> str:
    """The model's label without its parenthesised style note: ``Managed fine-tuning``."""
    return short_label(model_label(name))


def in_sentence(label: str) -> str:
    """A short label lower-cased for mid-sentence use, unless its first word has capitals
    of its own, as an acronym does (``Managed fine-tuning`` -> ``managed fine-tuning``;
    ``GPU pool`` and ``LoRA adapters`` stay)."""
    short = short_label(label)
    first = short.split(" ", 1)[0]
    return short if any(c.isupper() for c in first[1:]) else short[:1].lower() + short[1:]


def parameter_label(path: str) -> str:
    """A swept config path in words (the path itself when it has no plain name)."""
    if path in PARAMETER_LABELS:
        return PARAMETER_LABELS[path]
    if path.startswith("operating_model.") and path.endswith("platform.base_fte"):
        return "platform FTE of " + short_model_label(path.split(".")[1]) if path.split(".")[1] != "*" else "platform FTE"
    return path


def money(x: float) -> str:
    """USD the way a budget slide or a chart axis writes it: $1.25M, $340k, $950."""
    sign = "-" if x < 0 else ""
    x = abs(x)
    if x >= 1e6:
        return f"{sign}${x / 1e6:,.2f}M"
    if x >= 1e3:
        return f"{sign}${x / 1e3:,.0f}k"
    return f"{sign}${x:,.0f}"


def usd_exact(x: float) -> str:
    """USD to the dollar, for speaker notes and tables a reader copies from: $1,234,567."""
    return f"-${abs(x):,.0f}" if x < 0 else f"${x:,.0f}"


def number(x: Any) -> str:
    """A number in words: three significant digits, whole numbers with separators from
    1,000 (a grid value, a crossing, an input's mean); anything else as ``str``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return str(x)
    return f"{x:,.3g}" if abs(x) < 999.5 else f"{x:,.0f}"  # 999.6 is "1,000", not "1e+03"


def exact_number(x: float) -> str:
    """A number as a config file writes it, without float noise: ``2.35``, ``1e-06``."""
    return f"{x:.10g}"


def percent(p: float, decimals: int = 0) -> str:
    """A share as a percentage (``57 %``) that never rounds a rare event away: a share
    above 0 that would read ``0 %`` is ``<1 %``, one below 1 that would read ``100 %``
    is ``>99 %`` (``<0.1 %`` and ``>99.9 %`` with one decimal)."""
    text = f"{p * 100:.{decimals}f}"
    step = 10.0**-decimals
    if 0 < p < 1 and float(text) == 0:
        return f"<{step:g} %"
    if 0 < p < 1 and float(text) == 100:
        return f">{100 - step:g} %"
    return f"{text} %"


def usd_unit(values: Sequence[float]) -> tuple[float, str, int]:
    """The unit a table of these USD amounts reads best in: ``(divisor, name, decimals)``.
    Thousands while every amount is under USD 10 million, millions from there."""
    largest = max((abs(float(v)) for v in values), default=0.0)
    return (1e3, "USD thousands", 0) if largest < 1e7 else (1e6, "USD millions", 2)


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], gap: int = 2) -> list[str]:
    """Rows of text cells as aligned lines: the first column left, the rest right, each
    as wide as its widest cell, so the columns stay apart whatever the magnitudes."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    space = " " * gap

    def line(cells: Sequence[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        return space.join([first, *(f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))]).rstrip()

    head = line(header)
    return [head, "-" * len(head), *(line(row) for row in rows)]
