"""The fuzz campaign run long: python -m benchmarks.fuzz [--examples 2000] [--only "coco json"]

Runs every target of every generator module ``tests/fuzz/strategies_*.py`` (found by name, so a
new module joins without an edit here) through the suite's rules (``tests/fuzz/campaign.py``)
for many more cases than the suite's share, and prints per reader the cases tried and their
outcomes: an error line, a counted skip, a clean read, and the failures (an error of several
lines or naming no file, a traceback, a kept NaN, a hang), with one example of each failure.
Exits 1 when any case failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "tests" / "fuzz"
COLUMNS = {
    "error": "error line",
    "skip": "counted skip",
    "ok": "clean",
    "bad error": "bad error",
    "traceback": "traceback",
    "nan": "kept NaN",
    "hang": "hang",
}


def generator_modules() -> list[ModuleType]:
    """Every ``tests/fuzz/strategies_*.py``, imported as pytest does (``tests`` on the path)."""
    if str(ROOT / "tests") not in sys.path:
        sys.path.insert(0, str(ROOT / "tests"))
    return [
        importlib.import_module(f"fuzz.{path.stem}")
        for path in sorted(FUZZ.glob("strategies_*.py"))
    ]


def run_target(target: Any, examples: int, seed: int, tally: Any, campaign: ModuleType) -> float:
    """``examples`` cases of ``target`` (generation only: nothing is shrunk, every case counts);
    returns the seconds taken."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed

    @with_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=target.strategy)
    def fuzz(case: Any) -> None:
        tally.add(target.name, campaign.outcome(target, case), case)

    start = time.perf_counter()
    fuzz()
    return time.perf_counter() - start


def table(tally: Any, seconds: dict[str, float]) -> str:
    header = ["reader", "cases", *COLUMNS.values(), "s", "cases/s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in tally.counts.items():
        cases = sum(row.values())
        cells = [name, str(cases), *(str(row[kind]) for kind in COLUMNS)]
        cells += [f"{seconds[name]:.1f}", f"{cases / seconds[name]:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="cases per reader")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", action="append", help="a reader's name (repeatable)")
    args = parser.parse_args(argv)
    modules = generator_modules()
    campaign = importlib.import_module("fuzz.campaign")
    tally, seconds = campaign.Tally(), {}
    for module in modules:
        for target in module.TARGETS:
            if args.only and target.name not in args.only:
                continue
            seconds[target.name] = run_target(target, args.examples, args.seed, tally, campaign)
            print(f"{module.__name__}: {target.name} done in {seconds[target.name]:.1f} s")
    print(table(tally, seconds))
    for (name, kind), example in tally.examples.items():
        print(f"\n{name}: {kind}, e.g.\n{example}")
    return 1 if tally.examples else 0


if __name__ == "__main__":
    sys.exit(main())
