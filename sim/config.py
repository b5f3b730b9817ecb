"""Compose the Hydra config (the same one the CLI uses) and turn failures into one-line errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from models.errors import ConfigError
from models.schema import register_configs
from models.validate import validate_config

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
    directory = str(Path(config_dir or CONFIG_DIR).resolve())
    try:
        with initialize_config_dir(config_dir=directory, version_base="1.3", job_name="lora_tco"):
            cfg = compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as exc:
        raise friendly_error(exc) from None
    validate(cfg)
    return cfg


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


def friendly_error(exc: BaseException) -> ConfigError:
    """Turn a Hydra / OmegaConf exception into a one-line :class:`ConfigError`."""
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
        return ConfigError(str(key), "?" if value is None else value, detail or message)
    if "Could not load" in message or "Could not find" in message:
        return ConfigError(
            "config group", message.split("'")[-2] if "'" in message else message, "no such option; see configs/ for the available ones"
        )
    text = f"{message} ({detail})" if detail and detail not in message else message
    return ConfigError("overrides", text, "check the override syntax: key=value, group=option, +new.key=value")
