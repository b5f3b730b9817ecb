"""Markers that say how a run directory ended, so a re-run sweep skips finished jobs
and ``lora-tco-report`` can name the jobs that failed."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.results import atomic_write

DONE = ".lora_tco_done.json"
FAILED = ".lora_tco_failed.json"


def config_digest(plain: Mapping[str, Any]) -> str:
    """SHA-256 of the config that determines the numbers (``output`` excluded)."""
    relevant = {k: v for k, v in plain.items() if k != "output"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()


def _write(path: Path, record: Mapping[str, Any]) -> None:
    atomic_write(path, lambda p: p.write_text(json.dumps(record, indent=1, sort_keys=True)))


def mark_done(folder: Path, plain: Mapping[str, Any], files: Sequence[Path]) -> None:
    """Record a finished job: its config digest, seed and the files it wrote."""
    (folder / FAILED).unlink(missing_ok=True)
    _write(folder / DONE, {"config_sha256": config_digest(plain), "seed": plain["seed"], "files": sorted(Path(f).name for f in files)})


def mark_failed(folder: Path, message: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DONE).unlink(missing_ok=True)
    _write(folder / FAILED, {"error": message})


def finished(folder: Path, plain: Mapping[str, Any]) -> bool:
    """Whether ``folder`` holds a finished job with exactly this config and all its files."""
    try:
        record = json.loads((folder / DONE).read_text())
    except (OSError, ValueError):
        return False
    return record.get("config_sha256") == config_digest(plain) and all((folder / f).exists() for f in record.get("files", []))


def status(folder: Path) -> tuple[str, str]:
    """``("done", "")``, ``("failed", message)`` or ``("incomplete", reason)`` of a job folder."""
    if (folder / DONE).exists():
        return "done", ""
    if (folder / FAILED).exists():
        try:
            return "failed", json.loads((folder / FAILED).read_text()).get("error", "")
        except (OSError, ValueError):
            return "failed", "unreadable failure record"
    return "incomplete", "no completion record: the job crashed, was killed or is still running"


@contextlib.contextmanager
def run_folder_lock(command: Any) -> Iterator[None]:
    """Hold the run (or sweep) folder of ``command`` (a :class:`sim.config.CommandLine`)
    for the whole run, before Hydra writes into it."""
    yield
