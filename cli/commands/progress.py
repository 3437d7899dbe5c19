"""Progress of a long command on the officer's terminal: how many, how fast, how long still.

``xinfang route --jsonl`` over 13,444 letters, a triage of a few hundred scans, training and
evaluating all take minutes; without a word on the screen they look hung. The line is redrawn in
place (``\\r``) at most a few times a second, and only on a terminal: when stderr goes to a file or
a pipe nothing is written, so logs and scripts see only the command's own output.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO

_CLEAR_TO_END = "\x1b[K"


def duration(seconds: float) -> str:
    """``2 小时 05 分``, ``3 分 07 秒`` or ``42 秒``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} 小时 {minutes:02d} 分"
    if minutes:
        return f"{minutes} 分 {secs:02d} 秒"
    return f"{secs} 秒"


class Progress:
    """Counts what a command has done and shows it, with the rate and the time left.

    Args:
        what: what is being done (``路由``, ``评估``), first on the line.
        unit: what is counted (``封``, ``个文件``, ``步``).
        total: how many there are, when known; without it only the count and rate are shown.
        stream: where the line goes (standard error).
        enabled: show it; by default only when ``stream`` is a terminal.
        clock: seconds, monotonic (a test gives its own).
        interval: least seconds between two redraws (a new step and the last count are always drawn).
    """

    def __init__(
        self,
        what: str,
        unit: str,
        total: int | None = None,
        *,
        stream: IO[str] | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        interval: float = 0.25,
    ) -> None:
        self.what = what
        self.unit = unit
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self.stream) if enabled is None else enabled
        self.done = 0
        self._clock = clock
        self._interval = interval
        self._started = clock()
        self._drawn_at: float | None = None
        self._shown = False

    def update(self, done: int, total: int | None = None, what: str | None = None) -> None:
        """``done`` of ``total`` so far (``total`` and ``what`` change only when given)."""
        self.done = done
        if total is not None:
            self.total = total
        # A new step and the last count are always drawn; counts in between at most every interval.
        new_step = what is not None and what != self.what
        if what is not None:
            self.what = what
        now = self._clock()
        finished = self.total is not None and done >= self.total
        if (
            self._drawn_at is not None
            and now - self._drawn_at < self._interval
            and not (finished or new_step)
        ):
            return
        self._drawn_at = now
        self._draw(now)

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def note(self, text: str) -> None:
        """A line of the command's own log (a stage begun), written above the progress line.

        Unlike the progress line it is written when piped too: it is part of what the command says.
        """
        if self.enabled and self._shown:
            self.stream.write("\r" + _CLEAR_TO_END + text + "\n")
            self._draw(self._clock())
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def line(self, now: float | None = None) -> str:
        """The line as it is drawn now."""
        elapsed = (self._clock() if now is None else now) - self._started
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        parts = [f"{self.what} {count} {self.unit}"]
        if self.done and elapsed > 0:
            rate = self.done / elapsed
            if rate >= 1:
                parts.append(f"每秒 {rate:.1f} {self.unit}" if rate < 10 else f"每秒 {rate:.0f} {self.unit}")
            else:
                parts.append(f"每{self.unit.lstrip('个')} {1 / rate:.0f} 秒")
            if self.total is not None:
                parts.append(f"预计还需 {duration(max(0, self.total - self.done) / rate)}")
        elif self.total is not None:
            parts.append("预计还需 —")
        parts.append(f"已用 {duration(elapsed)}")
        return " · ".join(parts)

    def _draw(self, now: float) -> None:
        if not self.enabled:
            return
        self.stream.write("\r" + self.line(now) + _CLEAR_TO_END)
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """Draw the last count and end the line, so what follows starts on its own."""
        if not self.enabled:
            return
        self._draw(self._clock())
        if self._shown:
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_terminal(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


__all__ = ["Progress", "duration"]
