"""Compose the Hydra config (the same one the CLI uses) and turn failures into one-line errors."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import importlib.util
import math
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_loader import ConfigLoader
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
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
# A sweep of more jobs than this is checked value by value (each value of each swept key,
# the other swept keys at their first value) instead of job by job: composing and
# validating one job takes ~0.1 s, so this bounds the check at about half a minute.
SWEEP_CHECK_LIMIT = 256
_BASIC_SWEEPER = f"{BasicSweeper.__module__}.{BasicSweeper.__qualname__}"

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
    directory = _config_folder(config_dir)
    overrides = normalize_overrides(overrides)
    with _initialized(directory) as loader:
        cfg, _ = _compose(loader, directory, overrides)
    validate(cfg)
    return cfg


def _config_folder(config_dir: str | Path | None) -> Path:
    if config_dir is None:
        return CONFIG_DIR
    directory = Path(config_dir).expanduser().resolve()
    if not directory.is_dir():
        raise ConfigError("config_dir", str(config_dir), "not a folder")
    return directory


@contextlib.contextmanager
def _initialized(directory: Path) -> Iterator[ConfigLoader]:
    """Hydra initialized over ``directory`` for the duration; yields its config loader."""
    with initialize_config_dir(config_dir=str(directory), version_base=VERSION_BASE, job_name="lora_tco"):
        yield GlobalHydra.instance().config_loader()


def _compose(loader: ConfigLoader, directory: Path, overrides: Sequence[str]) -> tuple[DictConfig, DictConfig]:
    """Compose inside an initialized Hydra: the app config and, split off it, Hydra's own node.

    Refuses ``_target_`` wherever it would come from (an override, a config file); Hydra's
    failures become one-line :class:`ConfigError`.
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


EXPORT_MODULES = {"excel": "openpyxl", "deck": "pptx"}


def check_extras(plain: dict) -> None:
    """Fail before simulating when an export is asked for but its extra is missing."""
    for option, module in EXPORT_MODULES.items():
        if plain["output"][option] and importlib.util.find_spec(module) is None:
            raise ConfigError(f"output.{option}", True, f'needs the exports extra: pip install "lora-tco[exports]" (no module {module})')


# --- the command line -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CommandLine:
    """A ``lora-tco`` command line after :func:`check_command_line`.

    Attributes
    ----------
    args : list of str
        The arguments to hand to Hydra (``key={dist: ...}`` overrides in compact form).
    overrides : list of str or None
        The config overrides of a single run that were checked, or ``None`` when Hydra
        runs the command itself (multirun sweeps, ``--cfg``, ``--help`` and other flags).
    plain : dict or None
        The validated plain config of a single run (``None`` when not checked).
    multirun : bool
        Whether the command is a multirun sweep (``-m`` / ``--multirun``); every job of
        it was checked unless another flag hands the command to Hydra.
    """

    args: list[str]
    overrides: list[str] | None
    plain: dict[str, Any] | None
    multirun: bool = False


# Hydra's own flags that change what a command line does: read here and by sim.apps.jobs (one table).
CONFIG_DIR_FLAGS = ("--config-dir", "-cd")
MULTIRUN_FLAGS = ("--multirun", "-m")


def _overrides_to_check(args: list[str]) -> tuple[list[str] | None, bool]:
    """The overrides to validate before Hydra starts (``None`` when another flag, such as
    ``--cfg`` or ``--help``, hands the command to Hydra), and whether it is a multirun.

    ``--config-dir DIR`` becomes a search-path entry, as Hydra treats it; a ``DIR``
    that is not a folder is refused here, whatever the other flags.
    """
    overrides: list[str] = []
    searchpath: str | None = None
    multirun = handed_over = False
    i = 0
    while i < len(args):
        arg = args[i]
        flag, sep, given = arg.partition("=")
        if flag in CONFIG_DIR_FLAGS and (sep or i + 1 < len(args)):
            folder = given if sep else args[i + 1]
            if not Path(folder).expanduser().is_dir():
                raise ConfigError(flag, folder, "not a folder")
            searchpath = f"hydra.searchpath=[file://{Path(folder).expanduser().resolve()}]"  # the last one wins, as in argparse
            i += 1 if sep else 2
            continue
        if arg in MULTIRUN_FLAGS:
            multirun = True
        elif arg.startswith("-"):
            handed_over = True
        elif not arg.startswith("hydra.") or arg.startswith("hydra.searchpath="):
            overrides.append(arg)
        i += 1
    if searchpath is not None:
        overrides.insert(0, searchpath)
    return (None if handed_over else overrides), multirun


def check_command_line(args: Sequence[str]) -> CommandLine:
    """Check a ``lora-tco`` command line before Hydra starts.

    A single run is composed and validated; a multirun sweep has every job checked
    (:func:`check_sweep`), so a bad value refuses the whole sweep before anything is
    written.

    Parameters
    ----------
    args : sequence of str
        The command-line arguments (without the program name).

    Returns
    -------
    CommandLine
        What to hand to Hydra, and what was checked.

    Raises
    ------
    ConfigError
        With a one-line message naming the field or file, the value and what is allowed.
    """
    # Token by token, so flags and their values (``--cfg job``) stay where they are.
    args = [a if a.startswith("-") else normalize_overrides([a])[0] for a in args]
    refuse_target_overrides([a for a in args if not a.startswith("-")])  # Hydra's own nodes too: it instantiates a launcher
    overrides, multirun = _overrides_to_check(args)
    if overrides is None:
        return CommandLine(args, None, None, multirun)
    if multirun:
        check_sweep(overrides)
        return CommandLine(args, None, None, True)
    plain = validate(load_config(overrides))
    check_extras(plain)
    return CommandLine(args, overrides, plain)


# --- multirun sweeps ------------------------------------------------------------------------


def _parse(parser: OverridesParser, overrides: Sequence[str], directory: Path) -> list[Override]:
    try:
        return parser.parse_overrides(list(overrides))
    except HydraException as exc:
        raise friendly_error(exc, directory, overrides) from None


def _sweep_axes(overrides: Sequence[Override]) -> tuple[list[list[str]], list[bool]]:
    """The job overrides per key, in Hydra's basic-sweeper order: jobs are the cartesian
    product of the axes (``BasicSweeper.split_arguments``: a later override of a key
    replaces an earlier one in its place). Also which axes come from a sweep."""
    axes: dict[str, tuple[list[str], bool]] = {}
    for override in overrides:
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise ConfigError(
                    key, override.input_line.split("=", 1)[1], "the basic sweeper takes a list of values (a,b,c) or range(start,stop,step)"
                )
            axes[key] = ([f"{key}={v}" for v in override.sweep_string_iterator()], True)
        else:
            axes[key] = ([f"{key}={override.get_value_element_as_str()}"], False)
    return [values for values, _ in axes.values()], [swept for _, swept in axes.values()]


def _jobs_to_check(sizes: Sequence[int]) -> list[int]:
    """Job numbers to check: all of them, or past :data:`SWEEP_CHECK_LIMIT` each value of
    each swept key with the other keys at their first value."""
    total = math.prod(sizes)
    if total <= SWEEP_CHECK_LIMIT:
        return list(range(total))
    strides = [math.prod(sizes[p + 1 :]) for p in range(len(sizes))]
    return sorted({j * strides[p] for p, size in enumerate(sizes) for j in range(size)})


def _job(axes: Sequence[Sequence[str]], number: int) -> list[str]:
    """The overrides of job ``number`` of the product of ``axes`` (the last axis varies fastest)."""
    picked = []
    for values in reversed(axes):
        number, index = divmod(number, len(values))
        picked.append(values[index])
    return picked[::-1]


def check_sweep(overrides: Sequence[str], config_dir: str | Path | None = None) -> int:
    """Check every job of a multirun sweep before Hydra starts any.

    The jobs are those Hydra's basic sweeper will launch: the product of the swept
    overrides of the command line and the experiment's ``hydra.sweeper.params``. Each
    is composed and validated like a single run (up to :data:`SWEEP_CHECK_LIMIT` jobs;
    beyond, each value of each swept key with the others at their first value).

    Parameters
    ----------
    overrides : sequence of str
        The overrides of the command line (``--config-dir`` as a ``hydra.searchpath`` override).
    config_dir : path, optional
        A config folder to use instead of the packaged ``configs/``.

    Returns
    -------
    int
        The number of jobs the sweep will launch (0 when another sweeper than the
        basic one chooses them: then only the swept keys' configured values are checked).

    Raises
    ------
    ConfigError
        For the first bad job, naming the field, the value, and the job
        (``... (sweep job 1 of 3: scenario.adapters=abc)``).
    """
    register_configs()
    directory = _config_folder(config_dir)
    overrides = normalize_overrides(overrides)
    refuse_target_overrides(overrides)
    with _initialized(directory) as loader:
        parser = OverridesParser.create(config_loader=loader)
        given = _parse(parser, overrides, directory)
        groups: dict[str, bool] = {}

        def at_compose(override: Override) -> bool:
            """Hydra overrides and config-group choices shape the composition; the rest are values set on it."""
            key = override.key_or_group
            if override.is_hydra_override() or override.package is not None:
                return True
            if key not in groups:
                groups[key] = bool(group_options(key, directory, overrides))
            return groups[key]

        fixed = [o.input_line for o in given if not o.is_sweep_override() and at_compose(o)]
        master, hydra_node = _compose(loader, directory, fixed)
        bases = {tuple(fixed): master}
        if OmegaConf.select(hydra_node, "sweeper._target_") != _BASIC_SWEEPER:
            _check_job(loader, directory, bases, [o for o in given if not o.is_sweep_override()], at_compose)
            return 0
        params = OmegaConf.to_container(hydra_node.sweeper.params, resolve=False) if hydra_node.sweeper.get("params") else {}
        items = normalize_overrides([f"{k}={v}" for k, v in (params or {}).items()] + list(overrides))
        axes, swept = _sweep_axes(_parse(parser, items, directory))
        total = math.prod(len(values) for values in axes)
        for number in _jobs_to_check([len(values) for values in axes]):
            job = _job(axes, number)
            label = " ".join(text for text, is_swept in zip(job, swept, strict=True) if is_swept)
            try:
                _check_job(loader, directory, bases, _parse(parser, job, directory), at_compose)
            except ConfigError as error:
                raise error.in_context(f"sweep job {number} of {total}" + (f": {label}" if label else "")) from None
    return total


def _check_job(
    loader: ConfigLoader, directory: Path, bases: dict[tuple[str, ...], DictConfig], job: Sequence[Override], at_compose: Any
) -> dict[str, Any]:
    """Compose (once per distinct set of group choices) and validate one job; its plain config.

    Value overrides are applied to a copy of the composed config with Hydra's own
    override semantics, as Hydra applies them after composing the defaults list.
    """
    shape = tuple(o.input_line for o in job if at_compose(o))
    if shape not in bases:
        bases[shape] = _compose(loader, directory, shape)[0]
    values = [o for o in job if not at_compose(o)]
    lines = [o.input_line for o in values]
    refuse_target_overrides(lines)
    cfg = copy.deepcopy(bases[shape])
    try:
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
    except COMPOSE_ERRORS as exc:
        raise friendly_error(exc, directory, lines) from None
    plain = validate(cfg)
    check_extras(plain)
    return plain
