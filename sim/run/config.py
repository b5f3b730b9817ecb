"""Compose the Hydra config (the same one the CLI uses) and turn failures into one-line errors.

Checking a ``lora-tco`` command line (its flags, its sweeps) before Hydra starts is the
command's business: :mod:`sim.apps.commandline` does it with the composition here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.config_loader import ConfigLoader
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from models.distributions import to_compact
from models.errors import ConfigError, ConfigFileError
from models.schema import register_configs
from models.validate import NO_INSTANTIATION, RENAMED, TARGET_KEY, find_target, unknown_key, validate_config
from sim.core.packaged import CONFIG_DIR

CONFIG_NAME = "config"
VERSION_BASE = "1.3"

COMPOSE_ERRORS = (HydraException, OmegaConfBaseException, yaml.YAMLError)


def load_config(overrides: Sequence[str] = (), config_dir: str | Path | None = None) -> DictConfig:
    """Compose the lora-tco config with Hydra overrides, and validate it.

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, e.g. ``["scenario.adapters=10", "operating_model=[self_managed_lora,managed_finetune]"]``.
    config_dir : path, optional
        A config folder to use instead of the packaged ``configs/``.

    Returns
    -------
    DictConfig
        The composed, validated config (without Hydra's own ``hydra`` node).

    Raises
    ------
    ConfigError
        With a one-line message naming the field (or file), the value and what is allowed.
    """
    register_configs()
    directory = config_folder(config_dir)
    overrides = normalize_overrides(overrides)
    with hydra_session(directory) as loader:
        cfg, _ = compose_config(loader, directory, overrides)
    validate(cfg)
    return cfg


def config_folder(config_dir: str | Path | None) -> Path:
    """The config folder to compose from: ``config_dir`` as an absolute path, or the
    packaged ``configs/`` when it is ``None``.

    Raises
    ------
    ConfigError
        When ``config_dir`` is not a folder.
    """
    if config_dir is None:
        return CONFIG_DIR
    directory = Path(config_dir).expanduser().resolve()
    if not directory.is_dir():
        raise ConfigError("config_dir", str(config_dir), "not a folder")
    return directory


@contextlib.contextmanager
def hydra_session(directory: Path) -> Iterator[ConfigLoader]:
    """Hydra initialized over ``directory`` for the duration; yields its config loader.

    Use as ``with hydra_session(directory) as loader: ...``; compose with
    :func:`compose_config` inside it.
    """
    with initialize_config_dir(config_dir=str(directory), version_base=VERSION_BASE, job_name="lora_tco"):
        yield GlobalHydra.instance().config_loader()


def compose_config(loader: ConfigLoader, directory: Path, overrides: Sequence[str]) -> tuple[DictConfig, DictConfig]:
    """Compose inside an initialized Hydra (:func:`hydra_session`): the app config and,
    split off it, Hydra's own node.

    Parameters
    ----------
    loader : ConfigLoader
        The loader :func:`hydra_session` yields.
    directory : Path
        The primary config folder (to name the file a failure comes from).
    overrides : sequence of str
        Hydra overrides.

    Returns
    -------
    (cfg, hydra_node) : tuple of DictConfig
        Not validated.

    Raises
    ------
    ConfigError
        For ``_target_`` wherever it would come from (an override, a config file), and for
        Hydra's failures, in one line.
    """
    refuse_target_overrides(overrides)
    try:
        cfg = compose(config_name=CONFIG_NAME, overrides=list(overrides), return_hydra_config=True)
    except COMPOSE_ERRORS as exc:
        raise friendly_error(exc, directory, overrides) from None
    with open_dict(cfg):
        hydra_node = cfg.pop("hydra")
    _refuse_target_files(loader, directory, overrides, cfg)
    return cfg, hydra_node


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


# --- _target_: lora-tco never instantiates objects from config ----------------------------


def _override_key(text: str) -> str:
    return text.split("=", 1)[0].lstrip("+~")


def refuse_target_overrides(overrides: Sequence[str]) -> None:
    """Refuse an override that sets ``_target_`` (as its key, or inside a mapping value).

    Raises
    ------
    ConfigError
        Naming the key, the value, and the override to remove.
    """
    parser = OverridesParser.create()
    for text in overrides:
        key = _override_key(text)
        if TARGET_KEY in key.replace("/", ".").split("."):
            raise ConfigError(key, text.split("=", 1)[1] if "=" in text else "", f"{NO_INSTANTIATION}; remove the override {text}")
        try:
            override = parser.parse_override(text)
        except HydraException:
            continue  # Hydra reports a malformed override
        if override.is_sweep_override():
            continue  # each swept value is checked as a job of its own
        inner = find_target(override.value(), key)
        if inner is not None:
            raise ConfigError(inner[0], inner[1], f"{NO_INSTANTIATION}; remove the override {text}")


def _searchpath_dirs(overrides: Sequence[str]) -> list[Path]:
    """The folders of a ``hydra.searchpath=[file://...]`` override (``--config-dir``)."""
    parser = OverridesParser.create()
    for text in overrides:
        if _override_key(text) != "hydra.searchpath":
            continue
        try:
            entries = parser.parse_override(text).value()
        except HydraException:
            return []
        return [Path(str(e)[len("file://") :]) for e in entries or [] if str(e).startswith("file://")]
    return []


def _config_file(config_path: str, folders: Sequence[Path]) -> Path | None:
    """The YAML file of ``config_path`` (``scenario/mine``) in the first folder that has it, as Hydra searches."""
    for folder in folders:
        candidate = Path(folder) / f"{config_path}.yaml"
        if candidate.is_file():
            return candidate
    return None


def _file_target(path: Path) -> tuple[str, Any] | None:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None  # composing it already succeeded; nothing more to say about this file
    return find_target(content, "")


def _refuse_target_files(loader: ConfigLoader, directory: Path, overrides: Sequence[str], cfg: DictConfig) -> None:
    """Refuse ``_target_`` in the composed app config, and in any file of a ``--config-dir``
    (its ``hydra/`` files too: Hydra instantiates a launcher's ``_target_``), naming the file."""
    found = find_target(OmegaConf.to_container(cfg, resolve=False), "")
    user_dirs = _searchpath_dirs(overrides)
    if found is None and not user_dirs:
        return
    folders = [directory, *user_dirs]
    try:
        defaults = loader.compute_defaults_list(CONFIG_NAME, list(overrides), RunMode.RUN).defaults
    except COMPOSE_ERRORS:
        defaults = []  # composing succeeded, so this does not happen; the app-config check below still holds
    for default in defaults:
        if default.config_path is None:
            continue
        path = _config_file(default.config_path, folders)
        if path is None:
            continue
        if found is None and not any(path.resolve().is_relative_to(d.resolve()) for d in user_dirs):
            continue  # the packaged configs' hydra/ files may name Hydra's own classes
        inner = _file_target(path)
        if inner is not None:
            field = found[0] if found is not None else ".".join(part for part in (default.package, inner[0]) if part)
            raise ConfigError(field, inner[1], f"{NO_INSTANTIATION}; remove {TARGET_KEY} from {path}")
    if found is not None:
        raise ConfigError(found[0], found[1], f"{NO_INSTANTIATION}; remove {TARGET_KEY} from the config")


# --- Hydra / OmegaConf / YAML failures as one line ------------------------------------------

_MISSING_OPTION = re.compile(r"Could not (?:load|find) '([^']+)/([^'/]+)'")
_IN_CONFIG = re.compile(r"In '([^']+)'")
_MISSING_SEARCHPATH = re.compile(r"Additional config directory '([^']+)' not found")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def yaml_error(exc: yaml.YAMLError) -> ConfigError:
    """A YAML syntax error as one line naming the file, line and column (1-based)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    problem = ", ".join(str(p) for p in parts if p) or " ".join(str(exc).split())
    if mark is not None:
        return ConfigFileError(str(mark.name), mark.line + 1, mark.column + 1, f"YAML syntax error: {problem}")
    return ConfigError("config file", getattr(exc, "name", "?"), f"YAML error: {problem}")


def group_options(group: str, config_dir: str | Path = CONFIG_DIR, overrides: Sequence[str] = ()) -> list[str]:
    """Every option of a config group in every config source Hydra searches.

    That is the packaged ``configs/``, a ``--config-dir`` (given as a ``hydra.searchpath``
    override), Hydra's own configs and those installed plugins register (e.g. the
    launchers under ``hydra/launcher``).

    Parameters
    ----------
    group : str
        A config group, e.g. ``scenario`` or ``hydra/launcher``.
    config_dir : path
        The primary config folder (used when Hydra is not already initialized).
    overrides : sequence of str
        Overrides of the command line; only ``hydra.searchpath`` is read.

    Returns
    -------
    list of str
        The option names, sorted; empty when there is no such group.
    """
    searchpath = [o for o in overrides if _override_key(o) == "hydra.searchpath"]

    def options() -> list[str]:
        try:
            found = GlobalHydra.instance().config_loader().get_group_options(group, config_name=CONFIG_NAME, overrides=searchpath)
        except COMPOSE_ERRORS:
            return []
        return sorted(found)

    if GlobalHydra.instance().is_initialized():
        return options()
    with initialize_config_dir(config_dir=str(Path(config_dir).resolve()), version_base=VERSION_BASE):
        return options()


def friendly_error(exc: BaseException, config_dir: Path = CONFIG_DIR, overrides: Sequence[str] = ()) -> ConfigError:
    """Turn a Hydra / OmegaConf / YAML exception into a one-line :class:`ConfigError`."""
    for link in _chain(exc):
        if isinstance(link, yaml.YAMLError):
            return yaml_error(link)
    missing = _MISSING_OPTION.search(str(exc))
    if missing:
        group, option = missing.groups()
        options = group_options(group, config_dir, overrides)
        return ConfigError(group, option, f"no such option; available: {', '.join(options) or 'none'}")
    folder = _MISSING_SEARCHPATH.search(str(exc))
    if folder:
        return ConfigError("--config-dir", folder.group(1), "not a folder")
    cause = next((link for link in _chain(exc) if getattr(link, "full_key", None)), exc)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    detail = str(cause).strip().splitlines()[0] if cause is not exc and str(cause).strip() else ""
    key = getattr(cause, "full_key", None)
    if key and str(key).rpartition(".")[2] == TARGET_KEY:
        return _target_error(str(key), exc, cause, config_dir, overrides)
    if key and "not in struct" in detail:
        return ConfigError(
            str(key), "(new key)", "unknown key; to give a distribution of another kind, write it as a string: key='\"interval90(3,15)\"'"
        )
    if key:
        value = getattr(cause, "value", None)
        section, _, leaf = str(key).rpartition(".")
        if value is None:
            value = next((o.split("=", 1)[1] for o in overrides if _override_key(o) == str(key)), "?")
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


def _target_error(key: str, exc: BaseException, cause: BaseException, config_dir: Path, overrides: Sequence[str]) -> ConfigError:
    """``_target_`` refused by the schema while composing: name the file it came from."""
    given = next((o for o in overrides if _override_key(o) == key), None)
    if given is not None:
        return ConfigError(key, given.split("=", 1)[1], f"{NO_INSTANTIATION}; remove the override {given}")
    where = _IN_CONFIG.search(str(exc))
    path = _config_file(where.group(1), [Path(config_dir), *_searchpath_dirs(overrides)]) if where else None
    inner = _file_target(path) if path is not None else None
    value = inner[1] if inner is not None else getattr(cause, "value", None) or "?"
    return ConfigError(key, value, f"{NO_INSTANTIATION}; remove {TARGET_KEY} from {path or 'the config'}")
