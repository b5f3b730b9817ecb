"""Progress of a long run on stderr: replications done, rate and ETA.

On a terminal it is a tqdm bar; otherwise (a log file, a Hydra launcher's job
output, a test that captures stderr) it is a plain line every ``interval``
seconds, then one at the end. Nothing here changes the results: the engines
report how many replications are done, nothing more.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import tqdm

LONG_RUN_S = 2.0  # report only when the rest of a run is expected to take longer than this
LOG_INTERVAL_S = 10.0  # seconds between plain progress lines when stderr is not a terminal


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def _duration(seconds: float) -> str:
    return tqdm.format_interval(max(0.0, seconds))


class Progress:
    """Reports replications done out of ``total``; shows nothing until :meth:`start`.

    Parameters
    ----------
    total : int
        Replications in the run (each covers every operating model).
    started_at : float, optional
        ``time.perf_counter()`` when the run began, so the rate counts work done
        before reporting started; default now.
    stream : text stream, optional
        Default ``sys.stderr``.
    label : str
        Prefix of every line.
    interval : float
        Seconds between plain lines (when ``stream`` is not a terminal).
    """

    def __init__(
        self,
        total: int,
        started_at: float | None = None,
        stream: TextIO | None = None,
        label: str = "lora-tco",
        interval: float = LOG_INTERVAL_S,
    ) -> None:
        self.total = int(total)
        self.started_at = time.perf_counter() if started_at is None else started_at
        self.stream = sys.stderr if stream is None else stream
        self.label = label
        self.interval = interval
        self.tty = _isatty(self.stream)
        self.done = 0
        self._bar: tqdm | None = None
        self._last_line = 0.0
        self._since = (self.started_at, 0)
        self._rate_hint: float | None = None
        self.started = False

    def start(self, done: int = 0, rate: float | None = None) -> None:
        """Begin reporting: ``done`` replications are already finished; ``rate``
        (replications per second, optional) is the best estimate so far, used for
        the ETA until reporting has timed a second of work itself."""
        if self.started:
            return
        self.started = True
        self.done = done
        self._since = (time.perf_counter(), done)
        self._rate_hint = rate
        if self.tty:
            self._bar = tqdm(
                total=self.total,
                initial=done,
                unit="rep",
                unit_scale=True,
                desc=self.label,
                file=self.stream,
                leave=False,
                dynamic_ncols=True,
                smoothing=0.1,
            )
        else:
            self._line()

    def update(self, done: int) -> None:
        """``done`` replications are finished (a running count, not an increment)."""
        if not self.started:
            self.done = done
            return
        if self._bar is not None:
            self._bar.update(done - self.done)
        self.done = done
        if self._bar is None and done < self.total and time.perf_counter() - self._last_line >= self.interval:
            self._line()

    def maybe_start(self, done: int, min_elapsed: float = 0.5) -> bool:
        """Start reporting once the run has lasted ``min_elapsed`` seconds and the rest
        is expected to take more than :data:`LONG_RUN_S`; returns whether it reports."""
        if not self.started:
            elapsed = time.perf_counter() - self.started_at
            if done and elapsed >= min_elapsed and elapsed / done * (self.total - done) > LONG_RUN_S:
                self.start(done)
        self.update(done)
        return self.started

    def close(self) -> None:
        """Stop reporting; the plain form ends with a line giving the total time, when
        every replication is done (a run stopped early is told by whoever stopped it)."""
        if not self.started:
            return
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.done >= self.total:
            elapsed = time.perf_counter() - self.started_at
            rate = self.done / elapsed if elapsed > 0 else float("nan")
            print(
                f"{self.label}: {self.done:,} / {self.total:,} replications in {_duration(elapsed)} ({rate:,.0f} replications/s)",
                file=self.stream,
                flush=True,
            )
        self.started = False

    def _line(self) -> None:
        now = time.perf_counter()
        self._last_line = now
        since, done_then = self._since
        if now - since >= 1.0 and self.done > done_then:  # measured since reporting started
            rate = (self.done - done_then) / (now - since)
        elif self._rate_hint:
            rate = self._rate_hint
        else:
            elapsed = now - self.started_at
            rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = _duration((self.total - self.done) / rate) if rate > 0 else "?"
        share = self.done / self.total if self.total else 1.0
        print(
            f"{self.label}: {self.done:,} / {self.total:,} replications ({share:.0%}), {rate:,.0f} replications/s, ETA {eta}",
            file=self.stream,
            flush=True,
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
