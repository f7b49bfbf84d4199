"""Side by side in one run: our pipelines against a peer's, as ratios of median times.

Every benchmark here measures ours and the peer interleaved in one process (absolute times
swing 1.5× between runs on a shared machine; ratios measured together hold) and reports them
through one :class:`Comparison`. A row is anything :class:`Timed`: latency rows (median
milliseconds per stage) and :class:`Throughput` rows (median seconds per step).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, Protocol, TypeVar


class Timed(Protocol):
    name: str

    def median_seconds(self) -> dict[str, float]:
        """Median seconds per unit of work, per stage (``total`` last when there are several)."""
        ...


T = TypeVar("T", bound=Timed)


@dataclass
class Comparison(Generic[T]):
    """Ours against theirs, measured in one run. ``checks`` holds, per row of ours, whether it
    computed what theirs did (same detections, same first loss …) and how that was seen."""

    theirs: T
    ours: list[T]
    checks: list[tuple[bool, str]] = field(default_factory=list)

    def time_ratios(self, row: T) -> dict[str, float]:
        """``row``'s median time ÷ theirs, per stage (< 1: ours is faster; NaN where a stage
        ran inside another)."""
        mine, reference = row.median_seconds(), self.theirs.median_seconds()
        return {stage: mine[stage] / reference[stage] for stage in mine if stage in reference}

    def speedup(self, row: T) -> float:
        """How many times faster ``row`` is than theirs over the whole unit (> 1: faster)."""
        ratios = self.time_ratios(row)
        return 1.0 / ratios[list(ratios)[-1]]

    @property
    def agree(self) -> bool:
        """Every row of ours computed what theirs did."""
        return all(ok for ok, _ in self.checks)

    def to_dict(self) -> dict[str, Any]:
        checks = self.checks or [(True, "")] * len(self.ours)
        return {
            "theirs": self.theirs.name,
            "ours": [
                {
                    "name": row.name,
                    "time_ratio_ours_over_theirs": self.time_ratios(row),
                    "speedup": self.speedup(row),
                    "same_result": ok,
                    "detail": detail,
                }
                for row, (ok, detail) in zip(self.ours, checks, strict=True)
            ],
        }


@dataclass(frozen=True)
class Throughput:
    """One loop's timed steps: ``periods[r][i]`` seconds for step ``i`` of round ``r``, each
    step ``batch_size`` images; ``first_loss`` where the loop trains."""

    name: str
    batch_size: int
    periods: tuple[tuple[float, ...], ...]
    first_loss: float = math.nan
    threads: int = 0  # torch's intra-op threads seen inside the steps

    @property
    def steps(self) -> int:
        return sum(len(round_) for round_ in self.periods)

    @property
    def images(self) -> int:
        return self.steps * self.batch_size

    @property
    def seconds(self) -> float:
        return sum(sum(round_) for round_ in self.periods)

    @property
    def seconds_per_step(self) -> float:
        """The median step period over all rounds: another process's burst slows a few
        steps, not the median."""
        return statistics.median(period for round_ in self.periods for period in round_)

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.seconds_per_step

    @property
    def slowest_step_ratio(self) -> float:
        """The slowest step over the median one: far above 1 when other work took the cores."""
        return max(max(round_) for round_ in self.periods) / self.seconds_per_step

    @property
    def round_images_per_second(self) -> list[float]:
        """Each round's images over its whole timed time (sensitive to other load)."""
        return [len(round_) * self.batch_size / sum(round_) for round_ in self.periods]

    def median_seconds(self) -> dict[str, float]:
        return {"step": self.seconds_per_step}

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "periods": [list(round_) for round_ in self.periods],
            "steps": self.steps,
            "images": self.images,
            "seconds": self.seconds,
            "seconds_per_step": self.seconds_per_step,
            "images_per_second": self.images_per_second,
            "round_images_per_second": self.round_images_per_second,
        }


def throughput_table(comparison: Comparison[Throughput]) -> str:
    """Both loops' rows (images/s from the median step) and ours ÷ each."""
    ours = comparison.ours[0].images_per_second
    lines = [
        "| loop | images | seconds | s/step (median) | images/s | images/s per round "
        "| first loss | ours ÷ this |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in (*comparison.ours, comparison.theirs):
        rounds = ", ".join(f"{rate:.1f}" for rate in row.round_images_per_second)
        loss = "—" if math.isnan(row.first_loss) else f"{row.first_loss:.4f}"
        lines.append(
            f"| {row.name} | {row.images} | {row.seconds:.2f} | {row.seconds_per_step:.3f} | "
            f"{row.images_per_second:.1f} | {rounds} | {loss} | "
            f"{ours / row.images_per_second:.2f}× |"
        )
    return "\n".join(lines)
