"""Where each input of a run comes from: the YAML files Hydra composes for it, and the
inline comment that sources each value (``adapters: 5  # assumption, range 1–20``).

Hydra alone decides which files a composition reads: the primary config's defaults
list, each preset's own ``defaults`` (``scenario/high_traffic`` extends
``scenario/default``), the group choices of the command line. This module asks
Hydra's config loader for that list rather than following defaults lists itself, then
reads the files' comments in composition order: a later file's comment on a key
replaces an earlier one, as its value does (a key a later file sets without a comment
keeps the earlier file's).

The loader is built here, not taken from Hydra's global state, so the exports can read
sources from inside a running Hydra app (the ``lora-tco`` command writes its workbook
from its job) without disturbing it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import version
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.types import RunMode
from omegaconf import OmegaConf, open_dict

from models.schema import register_configs
from sim.run.config import COMPOSE_ERRORS, CONFIG_DIR, CONFIG_NAME, VERSION_BASE, friendly_error

__all__ = ["Composition", "ConfigFile", "SectionSource", "compose_files", "run_sources", "yaml_comments"]

_KEY_LINE = re.compile(r"^(\s*)([A-Za-z_][\w-]*)\s*:(.*)$")


def _split_comment(rest: str) -> tuple[str, str]:
    """Split ``value   # comment`` at the first ``#`` outside quotes."""
    quote = ""
    for i, ch in enumerate(rest):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or rest[i - 1].isspace()):
            return rest[:i].strip(), rest[i + 1 :].strip()
    return rest.strip(), ""


def yaml_comments(path: Path) -> dict[str, str]:
    """Inline comments of a YAML file by dotted key path (``training.gpu_hours.mean``).

    Only ``key: value  # comment`` lines count; whole-line comments are headers,
    not sources of one value.

    Parameters
    ----------
    path : Path
        A YAML file.

    Returns
    -------
    dict of str to str
        The comment of each commented key, by its dotted path within the file.
    """
    comments: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = _KEY_LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        dotted = ".".join([*(k for _, k in stack), key])
        value, comment = _split_comment(rest)
        if comment:
            comments[dotted] = comment
        if not value:
            stack.append((indent, key))
    return comments


@dataclass(frozen=True)
class ConfigFile:
    """One YAML file of a composition.

    Attributes
    ----------
    config_path : str
        The file as a defaults list names it: ``scenario/default``.
    package : str
        Where its keys land in the composed config (``scenario``; ``""`` for the root).
    path : Path
        The file on disk, in the first folder of the search path that has it.
    """

    config_path: str
    package: str
    path: Path

    @property
    def name(self) -> str:
        """The file relative to its config folder: ``scenario/default.yaml``."""
        return f"{self.config_path}.yaml"

    def comments(self) -> dict[str, str]:
        """The file's inline comments by full config path (its package prepended)."""
        prefix = f"{self.package}." if self.package else ""
        return {prefix + key: comment for key, comment in yaml_comments(self.path).items()}


@dataclass(frozen=True)
class Composition:
    """The files Hydra composed, in composition order, and the config they give.

    Attributes
    ----------
    files : tuple of ConfigFile
        Every YAML file on disk that the composition read, earliest first (Hydra's own
        configs and structured configs are not files here).
    values : dict
        The composed config as plain values (resolved; without Hydra's ``hydra`` node).
    """

    files: tuple[ConfigFile, ...]
    values: dict[str, Any]

    def comments(self) -> dict[str, str]:
        """Inline comments by full config path, a later file's over an earlier one's."""
        merged: dict[str, str] = {}
        for file in self.files:
            merged.update(file.comments())
        return merged


def _loader(directory: Path) -> ConfigLoaderImpl:
    register_configs()
    # The version base load_config composes with (hydra.main sets the same one).
    version.setbase(VERSION_BASE)
    return ConfigLoaderImpl(config_search_path=create_config_search_path(str(directory)))


def _file_of(loader: ConfigLoaderImpl, config_path: str) -> Path | None:
    """The file Hydra loads for ``config_path``: the first source of the search path that
    has it, when that source is a folder (not a package or a structured config)."""
    for source in loader.repository.get_sources():
        if source.is_config(config_path):
            if source.scheme() != "file":
                return None
            return Path(source.path) / (config_path if config_path.endswith(".yaml") else f"{config_path}.yaml")
    return None


def _compose(loader: ConfigLoaderImpl, directory: Path, overrides: list[str]) -> Composition:
    try:
        defaults = loader.compute_defaults_list(CONFIG_NAME, overrides, RunMode.RUN).defaults
        cfg = loader.load_configuration(CONFIG_NAME, overrides, RunMode.RUN, from_shell=False)
        with open_dict(cfg):
            cfg.pop("hydra")
        values = OmegaConf.to_container(cfg, resolve=True)
    except COMPOSE_ERRORS as exc:
        raise friendly_error(exc, directory, overrides) from None
    files = []
    for default in defaults:
        path = _file_of(loader, default.config_path) if default.config_path else None
        if path is not None:
            files.append(ConfigFile(default.config_path, default.package or "", path))
    return Composition(tuple(files), values)  # type: ignore[arg-type]


def compose_files(overrides: Sequence[str] = (), config_dir: str | Path | None = None) -> Composition:
    """Compose the lora-tco config over the same folder and primary config as
    :func:`sim.run.config.load_config` (without validating it), and say which files it read.

    Parameters
    ----------
    overrides : sequence of str
        Hydra overrides, e.g. ``["scenario=high_traffic"]``.
    config_dir : path, optional
        A config folder to use instead of the packaged ``configs/``.

    Returns
    -------
    Composition
        The files in composition order and the composed values.

    Raises
    ------
    ConfigError
        When Hydra cannot compose the config (one line naming the field or file).
    """
    directory = Path(config_dir).expanduser().resolve() if config_dir else CONFIG_DIR
    return _compose(_loader(directory), directory, list(overrides))


@dataclass(frozen=True)
class SectionSource:
    """Where one section of a run's config (its scenario, one operating model) comes from.

    Attributes
    ----------
    file : str
        The file chosen for the section, relative to the config folder:
        ``scenario/high_traffic.yaml`` (which may extend others).
    comments : dict of str to str
        Inline comments by key within the section, from every file composed into it,
        a later file's over an earlier one's.
    values : dict
        The section as its files give it, before the run's own value overrides.
    """

    file: str
    comments: dict[str, str]
    values: dict[str, Any]


def run_sources(config: Mapping[str, Any], config_dir: str | Path | None = None) -> dict[str, SectionSource]:
    """The sources of a run's scenario and of each of its operating models.

    The run's choices are read from its plain config (``scenario.name`` and the names of
    its operating models); Hydra composes those choices over ``config_dir`` and names the
    files it read.

    Parameters
    ----------
    config : mapping
        The run's plain config (:attr:`sim.run.results.Results.config`).
    config_dir : path, optional
        The config folder to read (default: the packaged ``configs/``).

    Returns
    -------
    dict of str to SectionSource
        By section: ``scenario`` and ``operating_model.<name>``. A section whose choice
        has no file in the config folder (a renamed scenario, a model built from
        overrides) is left out.

    Raises
    ------
    ConfigError
        When Hydra cannot compose the config folder's config.
    """
    directory = Path(config_dir).expanduser().resolve() if config_dir else CONFIG_DIR
    loader = _loader(directory)
    scenario = str((config.get("scenario") or {}).get("name") or "")
    wanted = {"scenario": f"scenario/{scenario}"} if scenario else {}
    wanted |= {f"operating_model.{m}": f"operating_model/{m}" for m in config.get("operating_model") or {}}
    wanted = {section: path for section, path in wanted.items() if loader.repository.config_exists(path)}
    if not wanted:
        return {}
    overrides = []
    if "scenario" in wanted:
        overrides.append(f"scenario={scenario}")
    models = [section.split(".", 1)[1] for section in wanted if section != "scenario"]
    if models:
        overrides.append(f"operating_model=[{','.join(models)}]")
    composition = _compose(loader, directory, overrides)
    comments = composition.comments()
    composed = {file.config_path for file in composition.files}
    sources = {}
    for section, config_path in wanted.items():
        if config_path not in composed:
            continue  # a config folder whose primary config does not compose this group
        prefix = f"{section}."
        node: Any = composition.values
        for part in section.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        sources[section] = SectionSource(
            file=f"{config_path}.yaml",
            comments={key[len(prefix) :]: comment for key, comment in comments.items() if key.startswith(prefix)},
            values=dict(node) if isinstance(node, Mapping) else {},
        )
    return sources
