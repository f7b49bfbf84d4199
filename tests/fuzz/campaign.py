"""The fuzz campaign's rules, shared by its tests (``tests/fuzz/test_*.py``) and its longer run
(``benchmarks/fuzz.py``).

A generator module is ``tests/fuzz/strategies_<area>.py`` with a ``TARGETS`` list of
:class:`Target`: a reader's name, a hypothesis strategy drawing one malformed input, ``run``
(write the input under a fresh folder and hand it to the reader; return what the reader
returned) and ``judge`` (that return value → ``"ok"``, ``"skip"`` or ``"nan"``). The benchmark
finds every such module by its name; a test runs its targets through :func:`check`.

Each case's outcome is one of:

- ``error``: a :class:`~detect.errors.DetectError` whose message is one line naming a file
  of the case (what the command prints as ``error: …``);
- ``skip``: the reader returned and counted what it could not use (a dropped box, a skipped
  image, a note);
- ``ok``: the reader returned and nothing was wrong with the input;
- and the failures: ``bad error`` (a DetectError of several lines or naming no file),
  ``traceback`` (any other exception), ``nan`` (a non-finite value kept), ``hang`` (no answer
  within :data:`HANG_SECONDS`).
"""

from __future__ import annotations

import signal
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.strategies import SearchStrategy

from detect.errors import DetectError

GOOD = ("error", "skip", "ok")
BAD = ("bad error", "traceback", "nan", "hang")
HANG_SECONDS = 10.0


def no_judgement(value: Any) -> str:
    """For readers whose return value holds nothing to count: returning at all is fine."""
    return "ok"


@dataclass(frozen=True)
class Target:
    """One reader under fuzz: ``run(case, folder)`` writes ``case`` under ``folder`` (empty,
    fresh) and calls the reader; ``judge`` tells its return value ``ok``, ``skip`` or ``nan``."""

    name: str
    strategy: SearchStrategy[Any] = field(repr=False)
    run: Callable[[Any, Path], Any] = field(repr=False)
    judge: Callable[[Any], str] = field(default=no_judgement, repr=False)


@dataclass
class Outcome:
    kind: str
    detail: str = ""

    @property
    def good(self) -> bool:
        return self.kind in GOOD


class Hang(BaseException):
    """Raised in the reader by the alarm (a BaseException, so no ``except Exception`` in the
    reader swallows it)."""


@contextmanager
def alarm(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (main thread only, as pytest and the benchmark
    run it)."""

    def ring(signum: int, frame: Any) -> None:
        raise Hang

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(target: Target, case: Any, hang_seconds: float = HANG_SECONDS) -> Outcome:
    """What ``target``'s reader made of ``case``, in a fresh folder that is removed after."""
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        try:
            with alarm(hang_seconds):
                value = target.run(case, Path(folder))
        except Hang:
            return Outcome("hang", f"no answer in {hang_seconds:g} s")
        except DetectError as error:
            message = str(error)
            if "\n" in message or folder not in message:
                return Outcome("bad error", message)
            return Outcome("error", message.replace(folder, "<case>"))
        except Exception:
            return Outcome("traceback", traceback.format_exc())
        try:
            return Outcome(target.judge(value))
        except Exception:
            return Outcome("traceback", traceback.format_exc())


def check(target: Target, case: Any) -> None:
    """The test's assertion: the case's outcome is one of :data:`GOOD`."""
    result = outcome(target, case)
    assert result.good, f"{target.name}: {result.kind} for {case!r}\n{result.detail}"


# the suite's share: a few hundred cases per reader, no example database written to the
# checkout, no per-example deadline (the machine is shared; hangs are caught by the alarm)
SUITE = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Tally:
    """Outcomes counted per target (the benchmark's table), with one example of each bad one."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, target: str, result: Outcome, case: Any) -> None:
        row = self.counts.setdefault(target, {kind: 0 for kind in (*GOOD, *BAD)})
        row[result.kind] += 1
        if not result.good:
            self.examples.setdefault((target, result.kind), f"{case!r}\n{result.detail}")
