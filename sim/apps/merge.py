"""Merge the run directories of shards (``shard=i/n``) into the results of the whole run.

A shard run writes ``ledger.parquet``, ``metrics.parquet`` and
``replications.parquet`` with the seed, horizon, models, config and shard in
their metadata (:meth:`sim.run.results.Results.save`). Every random number is keyed
by replication index, so shards that belong to one run and cover every
replication exactly once merge into exactly the arrays of the unsharded run.

Each folder is trusted only when its files prove they are one run's: every parquet
file's metadata agrees with the others' in the folder, and a folder the ``lora-tco``
command wrote (it has ``.hydra/``) has a done marker whose file digests still match
(:func:`sim.apps.jobs.verify`). A folder saved from Python (``Results.save``: no
``.hydra/``, no marker) is taken on its metadata.

Command line::

    lora-tco-merge SHARD_DIR... --output DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from models.validate import parse_shard
from sim.apps import jobs
from sim.apps.errors import BAD_INPUT, fail
from sim.outputs.terminal import format_summary
from sim.run.results import SAVED_TABLES, Results

PROGRAM = "lora-tco-merge"

# Config keys that cannot change the numbers, so shards may differ in them.
IGNORED_KEYS = ("shard", "output", "engine.threads")
# Metadata every parquet file of one run folder shares (in this order: the first that differs is named).
FOLDER_IDENTITY = ("seed", "horizon_years", "shard", "models", "engine", "config", "config_sha256")


class MergeError(ValueError):
    """Shards that cannot be merged; the message is one line."""


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, Mapping):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out if out or not prefix else {prefix: {}}
    return {prefix: tree}


def _relevant(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in _flatten(config).items() if not any(k == i or k.startswith(i + ".") for i in IGNORED_KEYS)}


def _ranges(indices: Iterable[int]) -> str:
    """``0-6, 9, 12-13`` (at most a few runs, then ``...``)."""
    values = sorted(set(int(i) for i in indices))
    runs: list[str] = []
    start = prev = values[0] if values else 0
    for v in [*values[1:], None]:  # type: ignore[list-item]
        if v is not None and v == prev + 1:
            prev = v
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if v is not None:
            start = prev = v
    return ", ".join(runs[:4]) + (", ..." if len(runs) > 4 else "")


def _label(part: Results, path: Path) -> str:
    return f"{path} (shard {part.shard})" if part.shard else str(path)


def _expand(paths: Sequence[str | Path]) -> list[Path]:
    """Run directories; a multirun directory (``hydra.sweep.dir``: no results of its own,
    jobs in sub-folders) stands for every job folder in it that holds results."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and not (path / SAVED_TABLES[0]).is_file():
            jobs = sorted((p for p in path.iterdir() if (p / SAVED_TABLES[0]).is_file()), key=lambda p: (len(p.name), p.name))
            if jobs:
                out.extend(jobs)
                continue
        out.append(path)
    return out


def _metadata(file: Path) -> dict[str, str]:
    try:
        meta = pq.read_schema(file).metadata or {}
    except (OSError, ValueError) as exc:
        raise MergeError(f"{file}: not a readable parquet file ({' '.join(str(exc).split())})") from None
    return {k.decode()[len("lora_tco.") :]: v.decode() for k, v in meta.items() if k.startswith(b"lora_tco.")}


def _config_difference(mine: str, theirs: str) -> tuple[str, str]:
    """The first config key whose values differ: ``("config KEY = MINE", "THEIRS")``."""
    try:
        left, right = _flatten(json.loads(mine)), _flatten(json.loads(theirs))
    except ValueError:
        return "config (unreadable)", "a readable config"
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key, "(absent)"), right.get(key, "(absent)")
        if a != b:
            return f"config {key} = {a!r}", repr(b)
    return "config", "the same values written differently"


def _check_files_agree(path: Path) -> None:
    """Every parquet file of one folder carries the same run's metadata (a file copied in
    from another run, e.g. another seed's ``metrics.parquet``, does not)."""
    files = [path / name for name in SAVED_TABLES]
    if (path / "totals.parquet").is_file():
        files.append(path / "totals.parquet")
    reference = _metadata(files[0])
    for file in files[1:]:
        meta = _metadata(file)
        for key in FOLDER_IDENTITY:
            mine, theirs = meta.get(key, "(absent)"), reference.get(key, "(absent)")
            if mine == theirs:
                continue
            if key == "config" and "(absent)" not in (mine, theirs):
                shown, was = _config_difference(mine, theirs)
            else:
                shown, was = f"{key} = {mine}", theirs
            raise MergeError(f"{file}: {shown} but {files[0]} has {was}: the files of one run folder must come from one run")


def _check_finished(path: Path) -> None:
    """A folder the ``lora-tco`` command wrote must prove, by its done marker, that its run finished."""
    if not (path / ".hydra").is_dir():
        return  # saved from Python (Results.save): no marker to check, the metadata vouches
    state, reason = jobs.verify(path)
    if state != "done":
        what = f"its run failed: {reason}" if state == "failed" else reason
        raise MergeError(f"{path}: not a finished lora-tco run ({what})")


def _load(path: Path) -> Results:
    if not path.is_dir():
        raise MergeError(f"{path}: not a directory")
    missing = [name for name in SAVED_TABLES if not (path / name).is_file()]
    if missing:
        raise MergeError(f"{path}: no {missing[0]} (not a lora-tco run directory, or its run did not finish)")
    _check_files_agree(path)
    _check_finished(path)
    try:
        return Results.from_saved(path)
    except (OSError, ValueError) as exc:
        raise MergeError(" ".join(str(exc).split())) from None


def _check_same_run(parts: Sequence[Results], paths: Sequence[Path]) -> None:
    first, first_path = parts[0], paths[0]
    reference = _relevant(first.config)
    for part, path in zip(parts[1:], paths[1:], strict=True):
        for name in ("seed", "horizon_years", "model_names"):
            a, b = getattr(part, name), getattr(first, name)
            if a != b:
                shown = ",".join(a) if name == "model_names" else a
                was = ",".join(b) if name == "model_names" else b
                raise MergeError(f"{path}: {name} = {shown} but {first_path} has {was}: shards must come from one run")
        config = _relevant(part.config)
        for key in sorted(set(config) | set(reference)):
            if config.get(key, "(absent)") != reference.get(key, "(absent)"):
                raise MergeError(
                    f"{path}: config {key} = {config.get(key, '(absent)')!r} but {first_path} has {reference.get(key, '(absent)')!r}: "
                    f"shards must share the config apart from {', '.join(IGNORED_KEYS)}"
                )


def _check_coverage(parts: Sequence[Results], paths: Sequence[Path]) -> None:
    total = int(parts[0].config["replications"])
    # each shard holds exactly its block of replications
    for part, path in zip(parts, paths, strict=True):
        expected = np.arange(total)
        if part.shard:
            i, n = parse_shard(part.shard, total) or (0, 1)
            expected = np.array_split(expected, n)[i]
        if not np.array_equal(np.sort(part.replications), expected):
            what = f"shard {part.shard}" if part.shard else "an unsharded run"
            raise MergeError(f"{path}: {what} should hold replications {_ranges(expected)}, holds {_ranges(part.replications)}")
    # each replication exactly once
    owner: dict[int, int] = {}
    for k, part in enumerate(parts):
        for r in part.replications.tolist():
            if r in owner:
                j = owner[r]
                twice = sorted(set(part.replications.tolist()) & set(parts[j].replications.tolist()))
                if part.shard and part.shard == parts[j].shard:
                    what, a, b = f"duplicate shard {part.shard}", str(paths[j]), str(paths[k])
                else:
                    what, a, b = "duplicate replications", _label(parts[j], paths[j]), _label(part, paths[k])
                raise MergeError(f"{what}: {a} and {b} both hold replications {_ranges(twice)}")
            owner[r] = k
    absent = sorted(set(range(total)) - set(owner))
    if absent:
        shards = {p.shard for p in parts}
        counts = {parse_shard(s, total)[1] for s in shards if s}  # type: ignore[index]
        if len(counts) == 1 and "" not in shards:
            n = counts.pop()
            given = {parse_shard(s, total)[0] for s in shards}  # type: ignore[index]
            names = ", ".join(f"{i}/{n}" for i in range(n) if i not in given)
            raise MergeError(f"missing shard {names}: replications {_ranges(absent)} of {total} are in none of the directories given")
        raise MergeError(f"missing replications {_ranges(absent)} of {total}: in none of the directories given")


def merge_results(paths: Sequence[str | Path]) -> Results:
    """Merge the saved outputs of shard run directories into the whole run's results.

    Parameters
    ----------
    paths : sequence of path
        Run directories of ``lora-tco ... shard=i/n`` (any order); a multirun
        directory stands for the job folders in it.

    Returns
    -------
    Results
        The same arrays as the unsharded run, with ``shard = ""``.

    Raises
    ------
    MergeError
        With a one-line message if a directory is not a finished run (its files
        disagree on the run they are from, or its done marker does not verify), the shards
        come from different runs (seed, horizon, models or config apart from
        ``shard``, ``output`` and ``engine.threads``), or they do not cover every
        replication exactly once (naming the missing or duplicate shards).
    """
    paths = _expand(paths)
    if not paths:
        raise MergeError("no shard directories given")
    parts = [_load(p) for p in paths]
    _check_same_run(parts, paths)
    _check_coverage(parts, paths)
    merged = Results.concat(parts)
    merged.config = {**merged.config, "shard": ""}
    merged.shard = ""
    return merged


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point ``lora-tco-merge``."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Merge the run directories of shards (lora-tco ... shard=i/n) into the results of the whole run.",
    )
    parser.add_argument(
        "shards", nargs="+", metavar="SHARD_DIR", help="run directories of the shards (any order), or a multirun directory holding them"
    )
    parser.add_argument("--output", "-o", required=True, metavar="DIR", help="where to write summary.csv and the parquet files")
    parser.add_argument("--quiet", "-q", action="store_true", help="do not print the summary table")
    args = parser.parse_args(argv)
    if Path(args.output).exists() and not Path(args.output).is_dir():
        sys.exit(fail(PROGRAM, f"--output {args.output}: exists and is not a folder", BAD_INPUT))
    try:
        merged = merge_results(args.shards)
        written = merged.save(args.output)
    except MergeError as exc:
        sys.exit(fail(PROGRAM, str(exc), BAD_INPUT))
    except OSError as exc:
        sys.exit(fail(PROGRAM, f"{args.output}: {' '.join(str(exc).split())}", BAD_INPUT))
    if not args.quiet:
        print(format_summary(merged))
        print(f"\nmerged {len(_expand(args.shards))} shards; wrote {', '.join(p.name for p in written)} to {args.output}")


if __name__ == "__main__":
    main()
