"""The ``lora-tco`` command line, read once before Hydra starts: its flags, its overrides,
and every check that can refuse it in one line before anything is written.

:func:`check_command_line` walks the arguments once (:func:`read_arguments`) and returns a
:class:`CommandLine`; everything else that needs to know what the command line says (the
run-folder lock of :mod:`sim.apps.jobs`) reads it from there.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_loader import ConfigLoader
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from models.errors import ConfigError
from models.schema import register_configs
from sim.run.config import (
    COMPOSE_ERRORS,
    compose_config,
    config_folder,
    friendly_error,
    group_options,
    hydra_session,
    load_config,
    normalize_overrides,
    refuse_target_overrides,
    validate,
)

__all__ = [
    "CONFIG_DIR_FLAGS",
    "EXPORT_MODULES",
    "MULTIRUN_FLAGS",
    "SWEEP_CHECK_LIMIT",
    "Arguments",
    "CommandLine",
    "check_command_line",
    "check_extras",
    "check_sweep",
    "read_arguments",
]

# Hydra's own flags that change what a command line does; any other flag hands the command to Hydra.
CONFIG_DIR_FLAGS = ("--config-dir", "-cd")
MULTIRUN_FLAGS = ("--multirun", "-m")

# A sweep of more jobs than this is checked value by value (each value of each swept key,
# the other swept keys at their first value) instead of job by job: composing and
# validating one job takes ~0.1 s, so this bounds the check at about half a minute.
SWEEP_CHECK_LIMIT = 256
_BASIC_SWEEPER = f"{BasicSweeper.__module__}.{BasicSweeper.__qualname__}"

EXPORT_MODULES = {"excel": "openpyxl", "deck": "pptx"}


def check_extras(plain: dict) -> None:
    """Fail before simulating when an export is asked for but its extra is missing.

    Raises
    ------
    ConfigError
        Naming the ``output`` option and the ``pip install`` that provides it.
    """
    for option, module in EXPORT_MODULES.items():
        if plain["output"][option] and importlib.util.find_spec(module) is None:
            raise ConfigError(f"output.{option}", True, f'needs the exports extra: pip install "lora-tco[exports]" (no module {module})')


# --- the command line -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Arguments:
    """What the arguments of a ``lora-tco`` command line say (:func:`read_arguments`).

    Attributes
    ----------
    overrides : list of str or None
        Every override, Hydra's own (``hydra.*``) included, in order; ``--config-dir DIR``
        as a ``hydra.searchpath`` entry in front. ``None`` when a flag lora-tco does not
        read (``--cfg``, ``--help``, ...) hands the command to Hydra.
    multirun : bool
        Whether ``-m`` / ``--multirun`` is given.
    """

    overrides: list[str] | None
    multirun: bool


def read_arguments(args: Sequence[str]) -> Arguments:
    """Read the flags and overrides of a command line, as Hydra will.

    ``--config-dir DIR`` (``-cd DIR``, ``--config-dir=DIR``) becomes a search-path entry,
    as Hydra treats it; the last one wins, as in argparse.

    Raises
    ------
    ConfigError
        When the ``DIR`` of ``--config-dir`` is not a folder, whatever the other flags.
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
            searchpath = f"hydra.searchpath=[file://{Path(folder).expanduser().resolve()}]"
            i += 1 if sep else 2
            continue
        if arg in MULTIRUN_FLAGS:
            multirun = True
        elif arg.startswith("-"):
            handed_over = True
        else:
            overrides.append(arg)
        i += 1
    if searchpath is not None:
        overrides.insert(0, searchpath)
    return Arguments(None if handed_over else overrides, multirun)


def _config_overrides(overrides: Sequence[str]) -> list[str]:
    """The overrides the config is composed and validated with: Hydra's own nodes only
    through the search path (a ``--config-dir``), whose files are part of the config."""
    return [o for o in overrides if not o.startswith("hydra.") or o.startswith("hydra.searchpath=")]


@dataclasses.dataclass(frozen=True)
class CommandLine:
    """A ``lora-tco`` command line after :func:`check_command_line`.

    Attributes
    ----------
    args : list of str
        The arguments to hand to Hydra (``key={dist: ...}`` overrides in compact form).
    arguments : Arguments
        What those arguments say: every override, and whether the command is a sweep or
        is handed to Hydra.
    overrides : list of str or None
        The config overrides of a single run that were checked, or ``None`` when Hydra
        runs the command itself (multirun sweeps, ``--cfg``, ``--help`` and other flags).
    plain : dict or None
        The validated plain config of a single run (``None`` when not checked).
    """

    args: list[str]
    arguments: Arguments
    overrides: list[str] | None
    plain: dict[str, Any] | None

    @property
    def multirun(self) -> bool:
        """Whether the command is a multirun sweep (``-m`` / ``--multirun``); every job of
        it was checked unless another flag hands the command to Hydra."""
        return self.arguments.multirun


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
    arguments = read_arguments(args)
    if arguments.overrides is None:
        return CommandLine(args, arguments, None, None)
    overrides = _config_overrides(arguments.overrides)
    if arguments.multirun:
        check_sweep(overrides)
        return CommandLine(args, arguments, None, None)
    plain = validate(load_config(overrides))
    check_extras(plain)
    return CommandLine(args, arguments, overrides, plain)


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
    directory = config_folder(config_dir)
    overrides = normalize_overrides(overrides)
    refuse_target_overrides(overrides)
    with hydra_session(directory) as loader:
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
        master, hydra_node = compose_config(loader, directory, fixed)
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
        bases[shape] = compose_config(loader, directory, shape)[0]
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
