"""Compose the Hydra config (the same one the CLI uses) and turn failures into one-line errors."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from models.distributions import to_compact
from models.errors import ConfigError
from models.schema import register_configs
from models.validate import RENAMED, unknown_key, validate_config

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def load_config(overrides: Sequence[str] = (), config_dir: str | Path | None = None) -> DictConfig:
    """Compose the lora-tco config with Hydra overrides, and validate it.

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, e.g. ``["scenario.adapters=10", "operating_model=[self_managed_lora,managed_finetune]"]``.
    config_dir : path, optional
        A config folder to use instead of the packaged ``configs/``.

    Raises
    ------
    ConfigError
        With a one-line message naming the field, the value and what is allowed.
    """
    register_configs()
    directory = Path(config_dir or CONFIG_DIR).resolve()
    overrides = normalize_overrides(overrides)
    try:
        with initialize_config_dir(config_dir=str(directory), version_base="1.3", job_name="lora_tco"):
            cfg = compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        raise friendly_error(exc, directory, overrides) from None
    validate(cfg)
    return cfg


def normalize_overrides(overrides: Sequence[str]) -> list[str]:
    """Rewrite ``key={dist: ...}`` overrides into the compact string form.

    Hydra merges a mapping into the mapping already configured, so
    ``key={dist: pert, min: 1, max: 4}`` over a configured PERT would silently
    keep its old mode, and a mapping of another kind would fail. The string
    form ``key="pert(1,4)"`` replaces the value instead, and a missing key is
    reported as missing.
    """
    parser = OverridesParser.create()
    out = []
    for text in overrides:
        try:
            override = parser.parse_override(text)
        except HydraException:
            out.append(text)  # Hydra will report it
            continue
        if override.is_sweep_override() or override.is_delete():
            out.append(text)
            continue
        value = override.value()
        if isinstance(value, dict) and "dist" in value:
            prefix = text[: len(text) - len(text.lstrip("+~"))]
            out.append(f'{prefix}{override.key_or_group}="{to_compact(override.key_or_group, value)}"')
        else:
            out.append(text)
    return out


def to_plain(cfg: DictConfig | dict) -> dict[str, Any]:
    """A resolved plain-dict copy of a config."""
    if isinstance(cfg, DictConfig):
        try:
            return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
        except OmegaConfBaseException as exc:
            raise friendly_error(exc) from None
    return cfg


def validate(cfg: DictConfig | dict) -> dict[str, Any]:
    """Validate a config; returns its plain-dict form."""
    plain = to_plain(cfg)
    validate_config(plain)
    return plain


_MISSING_OPTION = re.compile(r"Could not (?:load|find) '([^'/]+)/([^']+)'")


def friendly_error(exc: BaseException, config_dir: Path = CONFIG_DIR, overrides: Sequence[str] = ()) -> ConfigError:
    """Turn a Hydra / OmegaConf exception into a one-line :class:`ConfigError`."""
    missing = _MISSING_OPTION.search(str(exc))
    if missing:
        group, option = missing.groups()
        options = sorted(p.stem for p in (Path(config_dir) / group).glob("*.yaml"))
        return ConfigError(group, option, f"no such option; available: {', '.join(options) or 'none'}")
    cause = exc
    while cause.__cause__ is not None and not getattr(cause, "full_key", None):
        cause = cause.__cause__
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    detail = str(cause).strip().splitlines()[0] if cause is not exc and str(cause).strip() else ""
    key = getattr(cause, "full_key", None)
    if key and "not in struct" in detail:
        return ConfigError(
            str(key), "(new key)", "unknown key; to give a distribution of another kind, write it as a string: key='\"interval90(3,15)\"'"
        )
    if key:
        value = getattr(cause, "value", None)
        section, _, leaf = str(key).rpartition(".")
        if value is None:
            value = next((o.split("=", 1)[1] for o in overrides if o.split("=", 1)[0].lstrip("+~") == str(key)), "?")
        if leaf in RENAMED and "not in" in (detail or message):
            return ConfigError(str(key), value, f"renamed: use {section}.{RENAMED[leaf]}")
        schema = getattr(cause, "object_type", None)
        if "not in" in (detail or message) and dataclasses.is_dataclass(schema):
            return ConfigError(str(key), value, unknown_key(section, leaf, [f.name for f in dataclasses.fields(schema)]))
        return ConfigError(str(key), "?" if value is None else value, detail or message)
    if "Could not load" in message or "Could not find" in message:
        return ConfigError(
            "config group", message.split("'")[-2] if "'" in message else message, "no such option; see configs/ for the available ones"
        )
    text = f"{message} ({detail})" if detail and detail not in message else message
    return ConfigError("overrides", text, "check the override syntax: key=value, group=option, +new.key=value")


EXPORT_MODULES = {"excel": "openpyxl", "deck": "pptx"}


def check_extras(plain: dict) -> None:
    """Fail before simulating when an export is asked for but its extra is missing."""
    for option, module in EXPORT_MODULES.items():
        if plain["output"][option] and importlib.util.find_spec(module) is None:
            raise ConfigError(f"output.{option}", True, f'needs the exports extra: pip install "lora-tco[exports]" (no module {module})')


@dataclasses.dataclass(frozen=True)
class CommandLine:
    """A ``lora-tco`` command line after :func:`check_command_line`.

    Attributes
    ----------
    args : list of str
        The arguments to hand to Hydra (``key={dist: ...}`` overrides in compact form).
    overrides : list of str or None
        The config overrides that were checked, or ``None`` when Hydra handles the
        command itself (multirun sweeps, ``--cfg``, ``--help`` and other flags).
    plain : dict or None
        The validated plain config of a single run (``None`` when not checked).
    """

    args: list[str]
    overrides: list[str] | None
    plain: dict[str, Any] | None


_CONFIG_DIR_FLAGS = ("--config-dir", "-cd")


def _overrides_to_check(args: list[str]) -> list[str] | None:
    """The overrides to validate before Hydra starts, or ``None`` when Hydra should
    handle the command itself (multirun sweeps, ``--cfg``, ``--help`` and other flags).
    ``--config-dir DIR`` becomes a search-path entry, as Hydra treats it."""
    overrides: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _CONFIG_DIR_FLAGS and i + 1 < len(args):
            overrides.append(f"hydra.searchpath=[file://{Path(args[i + 1]).resolve()}]")
            i += 2
            continue
        if arg.startswith("-"):
            return None
        if not arg.startswith("hydra.") or arg.startswith("hydra.searchpath="):
            overrides.append(arg)
        i += 1
    return overrides


def check_command_line(args: Sequence[str]) -> CommandLine:
    """Check a ``lora-tco`` command line before Hydra starts.

    Raises
    ------
    ConfigError
        With a one-line message naming the field or file, the value and what is allowed.
    """
    # Token by token, so flags and their values (``--cfg job``) stay where they are.
    args = [a if a.startswith("-") else normalize_overrides([a])[0] for a in args]
    overrides = _overrides_to_check(args)
    plain = None
    if overrides is not None:
        plain = validate(load_config(overrides))
        check_extras(plain)
    return CommandLine(args, overrides, plain)
