"""Run folders: which run is using one (a lock), and how its job ended (markers).

A run folder belongs to one run at a time. ``lora-tco`` takes an exclusive lock on
``FOLDER/.lora_tco.lock`` before Hydra writes anything (the run folder, or a sweep's
folder, when its name is known before Hydra starts: :func:`run_folder_lock`) and again
for each job folder when the job starts (:func:`claim`). The operating system releases
the lock when the process ends, however it ends.

A job's done marker is removed before the job writes anything and written last, after
every file it vouches for. It records the config digest, the seed and the SHA-256 and
size of each of those files, ``.hydra/config.yaml`` and ``.hydra/overrides.yaml``
included, so results beside a config they do not belong to are never taken for a
finished job (:func:`verify`): a re-run sweep skips only the jobs that finished with
its config, and ``lora-tco-report`` and ``lora-tco-merge`` trust only jobs whose files
prove it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import yaml
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from models.errors import ConfigError
from models.schema import register_configs
from sim.apps.commandline import CommandLine
from sim.core.packaged import CONFIG_DIR
from sim.run.results import atomic_write, config_digest

try:
    import fcntl
except ImportError:  # Windows: no flock; runs go ahead unlocked
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DONE",
    "FAILED",
    "LOCK",
    "Claim",
    "FolderLock",
    "RunFolder",
    "claim",
    "config_digest",
    "finished",
    "holder",
    "lock_folder",
    "mark_done",
    "mark_failed",
    "record",
    "run_folder",
    "run_folder_lock",
    "verify",
]

DONE = ".lora_tco_done.json"
FAILED = ".lora_tco_failed.json"
LOCK = ".lora_tco.lock"
MARKER_VERSION = 2
HYDRA_FILES = (".hydra/config.yaml", ".hydra/overrides.yaml")  # what Hydra writes that decides the numbers
_LOCK_ATTEMPTS = 5  # a reader's probe holds the lock for microseconds: retry briefly before refusing
_LOCK_RETRY_S = 0.02


# -- the lock ----------------------------------------------------------------------


class FolderLock:
    """An exclusive lock on ``FOLDER/.lora_tco.lock``, held until :meth:`release` (or the
    process ends). A context manager; a lock that holds nothing (no ``fcntl``, or this
    process already holds the folder) releases nothing."""

    def __init__(self, handle: BinaryIO | None = None) -> None:
        self._handle = handle

    @property
    def held(self) -> bool:
        """Whether this object holds a lock of its own."""
        return self._handle is not None

    def release(self) -> None:
        """Release the lock (closing its file releases the flock)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_flock(handle: BinaryIO, operation: int, attempts: int) -> bool | None:
    """``True`` locked, ``False`` held by someone else, ``None`` when the file system cannot lock."""
    for attempt in range(attempts):
        try:
            fcntl.flock(handle.fileno(), operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < attempts:
                time.sleep(_LOCK_RETRY_S)
        except OSError:
            return None
    return False


def _read_pid(handle: BinaryIO) -> int:
    """The pid the holder wrote into the lock file; 0 if it has not written it yet."""
    handle.seek(0)
    text = handle.read(32).decode(errors="replace").strip()
    return int(text) if text.isdigit() else 0


def _busy(pid: int) -> str:
    who = f"another lora-tco run (pid {pid})" if pid else "another lora-tco run"
    return f"{who} is using this folder; choose another folder or wait for it"


def holder(folder: str | os.PathLike) -> int | None:
    """The pid of another process holding ``folder``'s lock (0 if it has not written its pid
    yet), or ``None`` when nobody else does. Creates nothing."""
    if fcntl is None:
        return None
    try:
        handle = open(Path(folder) / LOCK, "rb", buffering=0)
    except OSError:
        return None
    with handle:
        if _try_flock(handle, fcntl.LOCK_SH, attempts=1) is not False:
            return None
        pid = _read_pid(handle)
    return None if pid == os.getpid() else pid


def lock_folder(folder: str | os.PathLike, key: str = "folder", shown: Any = None) -> FolderLock:
    """Take ``folder``'s lock (creating ``folder`` and its lock file if needed) and write
    this process's pid into it.

    Parameters
    ----------
    folder : path
        The run, sweep or job folder.
    key, shown : str, any
        The setting that named the folder and its value, for the refusal's message.

    Returns
    -------
    FolderLock
        Holding nothing if this process already holds the folder (``lora-tco`` locks a
        single run's folder before Hydra starts, then its job claims the same folder),
        or if the platform or file system has no ``flock``.

    Raises
    ------
    ConfigError
        When another process holds the folder: one line naming the folder and its pid.
    """
    folder = Path(folder)
    if fcntl is None:
        return FolderLock()
    folder.mkdir(parents=True, exist_ok=True)
    # Not truncated on open: until this process holds the lock, the pid in it is the holder's.
    handle = os.fdopen(os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666), "r+b", buffering=0)
    try:
        locked = _try_flock(handle, fcntl.LOCK_EX, _LOCK_ATTEMPTS)
        if locked:
            handle.truncate(0)
            handle.seek(0)
            handle.write(f"{os.getpid()}\n".encode())
            return FolderLock(handle)
        pid = _read_pid(handle) if locked is False else 0
    except BaseException:
        handle.close()
        raise
    handle.close()
    if locked is None or pid == os.getpid():  # a file system without flock, or this process holds it already
        return FolderLock()
    raise ConfigError(key, folder if shown is None else shown, _busy(pid))


# -- which folder a command line will write -----------------------------------------

_INTERPOLATION = re.compile(r"\$\{([^${}]+)\}")
_RUNTIME = ("hydra.job.", "hydra.runtime.", "hydra:")  # filled in by Hydra when the job starts


def _raw(tree: Any, key: str) -> Any:
    for part in key.split("."):
        if not isinstance(tree, Mapping) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _fixed_before_start(tree: Mapping[str, Any], value: Any, depth: int = 0) -> bool:
    """Whether a folder name is known before Hydra starts: no ``${now:...}`` (the default
    timestamped folders: composing now would name another second's folder) and nothing
    Hydra fills in when the job starts, directly or through other keys."""
    if not isinstance(value, str):
        return value is not None
    if "now:" in value or depth > 20:
        return False
    for expression in _INTERPOLATION.findall(value):
        if expression.startswith(_RUNTIME) or expression.startswith("."):
            return False
        if ":" in expression:  # another resolver (oc.env, ...): the same value now as in the run
            continue
        if not _fixed_before_start(tree, _raw(tree, expression), depth + 1):
            return False
    return True


@dataclass(frozen=True)
class RunFolder:
    """The folder a command line will write, known before Hydra starts.

    Attributes
    ----------
    key : str
        ``hydra.run.dir`` or, for a sweep, ``hydra.sweep.dir``.
    shown : Path
        Its value as composed (relative to the working directory if it is relative).
    path : Path
        The folder as an absolute path.
    multirun : bool
        Whether the command is a sweep.
    """

    key: str
    shown: Path
    path: Path
    multirun: bool


def run_folder(command: CommandLine) -> RunFolder | None:
    """The run folder (or a sweep's folder) of ``command``: the override on its command
    line when given literally (it wins over presets), else from the composed config
    (experiment presets may set it too), as Hydra will compose it.

    Returns ``None`` when it cannot be known before Hydra starts: a timestamped default
    folder, a name Hydra fills in at run time, a command that runs nothing (``--cfg``,
    ``--help``, ...) or flags and overrides Hydra should report on itself.
    """
    overrides = command.arguments.overrides
    if overrides is None:
        return None
    multirun = command.multirun
    parser = OverridesParser.create()
    kept, given = [], {}
    for text in overrides:
        try:
            override = parser.parse_override(text)
        except HydraException:
            return None
        if override.is_sweep_override():
            if not multirun:
                return None
            continue  # a sweep's folder is composed without its swept values, as Hydra does
        kept.append(text)
        given[override.get_key_element()] = override.value()
    multirun = multirun or str(given.get("hydra.mode", "")).endswith("MULTIRUN")
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    value = given.get(key)
    if value is None or "${" in str(value):
        if value is None and not _may_set_hydra(given):
            return None  # Hydra's own default: a timestamped folder
        # Not given literally (the command line wins over presets): compose, as Hydra will.
        value = _composed_folder(kept, multirun)
        if value is None:
            return None
        multirun, value = value
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    if not value:
        return None
    shown = Path(str(value))
    return RunFolder(key, shown, shown if shown.is_absolute() else Path.cwd() / shown, multirun)


def _may_set_hydra(given: Mapping[str, Any]) -> bool:
    """Whether anything but Hydra's defaults can set the folder: a ``hydra`` override, a
    config group chosen on the command line (a preset), or the primary config."""
    for key in given:
        name = key.lstrip("+~")
        if name.startswith("hydra") or ("." not in name and (CONFIG_DIR / name).is_dir()):
            return True
    try:
        return "hydra" in OmegaConf.load(CONFIG_DIR / "config.yaml")
    except (OSError, yaml.YAMLError, OmegaConfBaseException):
        return True


def _composed_folder(overrides: list[str], multirun: bool) -> tuple[bool, str] | None:
    """Whether the command is a sweep and its folder, from the composed config; ``None``
    when the folder is not known before Hydra starts."""
    register_configs()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="lora_tco"):
            cfg = compose(config_name="config", overrides=overrides, return_hydra_config=True)
        multirun = multirun or str(OmegaConf.select(cfg, "hydra.mode")).endswith("MULTIRUN")
        key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
        tree = OmegaConf.to_container(cfg, resolve=False)
        if not _fixed_before_start(tree, _raw(tree, key)):  # type: ignore[arg-type]
            return None
        value = OmegaConf.select(cfg, key)
    except (HydraException, OmegaConfBaseException):
        return None
    return multirun, value


def run_folder_lock(command: CommandLine) -> FolderLock:
    """Hold the run (or sweep) folder of ``command`` for the whole run, before Hydra writes
    into it; use as ``with run_folder_lock(command): ...``.

    A single run into a folder that holds a finished run with another config is refused
    here too, before Hydra overwrites its ``.hydra/``. Refusals create nothing. When the
    folder is not known before Hydra starts (see :func:`run_folder`) nothing is held
    here and each job's :func:`claim` locks its own folder.

    Raises
    ------
    ConfigError
        One line naming the folder: another run holds it (with its pid), or it holds a
        finished run with another config (with its seed).
    """
    target = run_folder(command)
    if target is None:
        return FolderLock()
    if target.path.is_dir():
        pid = holder(target.path)
        if pid is not None:
            raise ConfigError(target.key, target.shown, _busy(pid))
        if not target.multirun and command.plain is not None:
            _refuse_another_finished_run(target, command.plain)
    if target.path.exists() and not target.path.is_dir():
        raise ConfigError(target.key, target.shown, "is a file, not a folder: give a folder for the results")
    try:
        lock = lock_folder(target.path, target.key, target.shown)
    except OSError as exc:  # under a file, or a place this user cannot create folders in
        reason = f"{exc.filename}: {exc.strerror}" if exc.filename else " ".join(str(exc).split())
        raise ConfigError(target.key, target.shown, f"cannot be created ({reason}): give a folder you can write to") from None
    if not target.multirun and command.plain is not None:
        try:  # again, now that no other run can finish in this folder meanwhile
            _refuse_another_finished_run(target, command.plain)
        except ConfigError:
            lock.release()
            raise
    return lock


def _refuse_another_finished_run(target: RunFolder, plain: Mapping[str, Any]) -> None:
    found = record(target.path)
    if found is None or found["config_sha256"] == config_digest(plain) or verify(target.path)[0] != "done":
        return
    raise ConfigError(
        target.key, target.shown, f"holds a finished run with another config (seed {found.get('seed')}); choose a new folder or delete it"
    )


# -- markers -----------------------------------------------------------------------


def _write(path: Path, content: Mapping[str, Any]) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(content, indent=1, sort_keys=True)))


def _file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


def _name(folder: Path, file: str | os.PathLike) -> str:
    path = Path(file)
    try:
        return path.relative_to(folder).as_posix()
    except ValueError:
        return path.as_posix() if path.is_absolute() else path.name


def mark_done(folder: str | os.PathLike, plain: Mapping[str, Any], files: Sequence[str | os.PathLike]) -> None:
    """Record a finished job; call it last, after every file in ``files`` is written.

    The marker holds the config digest (:func:`sim.run.results.config_digest`), the seed, the
    horizon and the SHA-256 and size of each file in ``files`` and of Hydra's
    ``.hydra/config.yaml`` and ``.hydra/overrides.yaml`` when present.
    """
    folder = Path(folder)
    names = dict.fromkeys(_name(folder, f) for f in files)
    names.update(dict.fromkeys(name for name in HYDRA_FILES if (folder / name).is_file()))
    content = {
        "version": MARKER_VERSION,
        "config_sha256": config_digest(plain),
        "seed": plain.get("seed"),
        "horizon_years": plain.get("horizon_years"),
        "files": {name: _file_digest(folder / name) for name in names},
    }
    (folder / FAILED).unlink(missing_ok=True)
    _write(folder / DONE, content)


def mark_failed(folder: str | os.PathLike, message: str) -> None:
    """Record a failed job. A folder another live run holds is left alone: its markers are its own."""
    folder = Path(folder)
    if holder(folder) is not None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DONE).unlink(missing_ok=True)
    _write(folder / FAILED, {"error": message})


def record(folder: str | os.PathLike) -> dict[str, Any] | None:
    """The done marker of ``folder`` if it is one this version can check, else ``None``."""
    try:
        content = json.loads((Path(folder) / DONE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(content, dict) or content.get("version") != MARKER_VERSION or not isinstance(content.get("files"), dict):
        return None
    return content if isinstance(content.get("config_sha256"), str) else None


def _hydra_config(folder: Path) -> tuple[str, Any]:
    """The config digest and seed of the config Hydra saved in ``folder/.hydra/config.yaml``,
    computed as at run time."""
    loaded = OmegaConf.load(folder / HYDRA_FILES[0])
    if not isinstance(loaded, DictConfig):
        raise ValueError("not a mapping")
    plain = OmegaConf.to_container(loaded, resolve=True)
    return config_digest(plain), plain.get("seed")  # type: ignore[union-attr,arg-type]


def _changed(folder: Path, content: Mapping[str, Any], skip: Sequence[str] = ()) -> str | None:
    """Why the files ``content`` vouches for are not the ones it saw, or ``None``."""
    for name, expected in content["files"].items():
        if name in skip:
            continue
        path = folder / name
        try:
            if path.stat().st_size != expected.get("size") or _file_digest(path) != expected:
                return f"its files changed after it finished ({name})"
        except FileNotFoundError:
            return f"its files changed after it finished ({name} is missing)"
        except (OSError, AttributeError):
            return f"its files changed after it finished ({name} is unreadable)"
    return None


def verify(folder: str | os.PathLike) -> tuple[str, str]:
    """Whether ``folder``'s files prove a finished job.

    Returns
    -------
    (state, reason) : tuple of str
        ``("done", "")`` when the done marker's files are unchanged and its config digest
        is that of ``.hydra/config.yaml`` (when there is one); ``("failed", message)``;
        otherwise ``("incomplete", reason)``, e.g. ``results are from another run (seed 1
        in the files, seed 2 in .hydra/config.yaml)`` or ``its files changed after it
        finished (summary.csv)``.
    """
    folder = Path(folder)
    if not (folder / DONE).exists():
        if (folder / FAILED).exists():
            try:
                return "failed", str(json.loads((folder / FAILED).read_text()).get("error", ""))
            except (OSError, ValueError, AttributeError):
                return "failed", "unreadable failure record"
        pid = holder(folder)
        if pid is not None:
            return "incomplete", f"no completion record: a lora-tco run{f' (pid {pid})' if pid else ''} is still running it"
        return "incomplete", "no completion record: the job crashed, was killed or is still running"
    content = record(folder)
    if content is None:
        return "incomplete", "its completion record is unreadable or from an older lora-tco (no file digests): run the job again"
    if (folder / ".hydra").is_dir():
        try:
            digest, seed = _hydra_config(folder)
        except (OSError, ValueError, yaml.YAMLError, OmegaConfBaseException):
            return "incomplete", "its .hydra/config.yaml is missing or unreadable"
        if digest != content["config_sha256"]:
            if seed != content.get("seed"):
                return (
                    "incomplete",
                    f"results are from another run (seed {content.get('seed')} in the files, seed {seed} in .hydra/config.yaml)",
                )
            return "incomplete", "results are from another run (another config in .hydra/config.yaml)"
    changed = _changed(folder, content)
    if changed:
        return "incomplete", changed
    return "done", ""


def finished(folder: str | os.PathLike, plain: Mapping[str, Any]) -> bool:
    """Whether ``folder`` holds a finished job of exactly this config (``output`` aside)
    whose result files are unchanged. Hydra's ``.hydra/`` files are not compared: a re-run
    sweep has just rewritten them, with this config."""
    content = record(folder)
    if content is None or content["config_sha256"] != config_digest(plain):
        return False
    return _changed(Path(folder), content, skip=HYDRA_FILES) is None


@dataclass
class Claim:
    """A job's hold on its folder (:func:`claim`).

    Attributes
    ----------
    folder : Path
        The job folder.
    state : str
        ``"skip"`` (finished with this config; the lock is already released) or ``"run"``.
    lock : FolderLock
        Held until :meth:`done`, :meth:`failed` or :meth:`release` (or the process ends).
    """

    folder: Path
    state: str
    lock: FolderLock

    @property
    def skip(self) -> bool:
        """Whether the job finished earlier with this config and need not run."""
        return self.state == "skip"

    def done(self, plain: Mapping[str, Any], files: Sequence[str | os.PathLike]) -> None:
        """:func:`mark_done`, then release the folder."""
        try:
            mark_done(self.folder, plain, files)
        finally:
            self.release()

    def failed(self, message: str) -> None:
        """:func:`mark_failed`, then release the folder."""
        try:
            mark_failed(self.folder, message)
        finally:
            self.release()

    def release(self) -> None:
        """Release the folder's lock."""
        self.lock.release()


def claim(folder: str | os.PathLike, plain: Mapping[str, Any], multirun: bool) -> Claim:
    """Take a job folder for one job, before the job writes anything.

    In a sweep, a folder that holds a finished job of exactly this config is skipped (its
    marker now also vouches for the ``.hydra/`` files Hydra just rewrote). Otherwise the
    old markers are removed, so that whatever the folder holds is not taken for this
    job's results until :meth:`Claim.done` writes the new marker.

    Parameters
    ----------
    folder : path
        The job's output folder (``hydra.runtime.output_dir``).
    plain : mapping
        The job's validated plain config.
    multirun : bool
        Whether the job is one of a sweep.

    Returns
    -------
    Claim
        ``state`` ``"skip"`` or ``"run"``.

    Raises
    ------
    ConfigError
        When another live process holds the folder.
    """
    folder = Path(folder)
    lock = lock_folder(folder, "job folder" if multirun else "hydra.run.dir")
    try:
        if multirun and finished(folder, plain):
            _restamp(folder)
            lock.release()
            return Claim(folder, "skip", lock)
        (folder / DONE).unlink(missing_ok=True)
        (folder / FAILED).unlink(missing_ok=True)
    except BaseException:
        lock.release()
        raise
    return Claim(folder, "run", lock)


def _restamp(folder: Path) -> None:
    content = record(folder)
    if content is None:
        return
    for name in HYDRA_FILES:
        if (folder / name).is_file():
            content["files"][name] = _file_digest(folder / name)
    _write(folder / DONE, content)
