"""Counters and per-stage latencies of a detection stream, and the summary it ends with."""

from __future__ import annotations

import collections
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detect.inference.counting import Counts

RECENT = 4096  # latency samples kept per stage: percentiles over the latest, memory stays flat


class Stage:
    """Latency of one pipeline stage: count and total over the whole run, percentiles over the
    latest ``RECENT`` samples. One thread writes each instance."""

    def __init__(self) -> None:
        self.count, self.total = 0, 0.0
        self.recent: collections.deque[float] = collections.deque(maxlen=RECENT)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.recent.append(seconds)

    def merge(self, others: list[Stage]) -> Stage:
        """This stage with ``others`` folded in (for a per-source stage summed over sources)."""
        for other in others:
            self.count += other.count
            self.total += other.total
            self.recent.extend(other.recent)
        return self

    def row(self, name: str, unit: str) -> str:
        if not self.count:
            return f"| {name} | {unit} | 0 | – | – | – |"
        p50, p90 = np.percentile(np.array(self.recent) * 1000, [50, 90])
        mean = self.total / self.count * 1000
        return f"| {name} | {unit} | {self.count} | {mean:.2f} | {p50:.2f} | {p90:.2f} |"


CLEAN = ("ended", "stopped")  # ends that are not a source's fault


@dataclass
class SourceStats:
    """One source: frames read, processed (detected), dropped (realtime: a newer frame came
    first; on stop: never reached the detector), reconnections, unreadable images skipped
    (file → reason), and how it ended: ``ended``, ``stopped``, ``truncated: …``, ``lost: …`` or
    ``failed: …``."""

    name: str
    kind: str
    mode: str
    read: int = 0
    processed: int = 0
    dropped: int = 0
    reconnects: int = 0
    status: str = "running"
    skipped: dict[str, str] = field(default_factory=dict)
    read_latency: Stage = field(default_factory=Stage)
    track_ids: int = 0  # with tracking: ids given (confirmed tracks)
    peak_tracks: int = 0  # with tracking: most tracks alive at once (tentative, tracked, lost)
    counts: Counts | None = None  # with counting: the last frame's counts

    @property
    def clean(self) -> bool:
        """It ended or was stopped, not failed, lost or truncated (skipped images are counted
        and reported, as a dataset's are, but do not make the run fail)."""
        return self.status in CLEAN


@dataclass
class StreamSummary:
    """What a stream did: per-source counts, end-to-end FPS, per-stage latency, batch sizes."""

    sources: list[SourceStats]
    wall_s: float
    stages: dict[str, Stage]
    batch_sizes: dict[int, int]
    stopped_by: str | None = None
    outputs: list[Path] = field(default_factory=list)
    names: Mapping[int, str] = field(default_factory=dict)  # category id → name (counts)
    tracking: bool = False

    @property
    def read(self) -> int:
        return sum(source.read for source in self.sources)

    @property
    def processed(self) -> int:
        return sum(source.processed for source in self.sources)

    @property
    def dropped(self) -> int:
        return sum(source.dropped for source in self.sources)

    @property
    def incomplete(self) -> list[SourceStats]:
        """Sources that ended badly: failed, lost or truncated."""
        return [source for source in self.sources if not source.clean]

    @property
    def fps(self) -> float:
        """Frames processed (detected and written) per second of wall time, end to end."""
        return self.processed / self.wall_s if self.wall_s > 0 else 0.0

    def format(self) -> str:
        """Markdown: a row per source (and a total), then a row per stage."""
        lines = [
            "| source | mode | read | processed | dropped | reconnects | status |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {s.name} | {s.mode} | {s.read} | {s.processed} | {s.dropped} | {s.reconnects} "
            f"| {s.status} |"
            for s in self.sources
        ]
        if len(self.sources) > 1:
            lines.append(
                f"| all | | {self.read} | {self.processed} | {self.dropped} "
                f"| {sum(s.reconnects for s in self.sources)} | |"
            )
        batches = sum(self.batch_sizes.values())
        mean_batch = sum(k * n for k, n in self.batch_sizes.items()) / batches if batches else 0
        units = {
            "read": "frame",
            "infer": f"batch (mean {mean_batch:.2f} frames)",
            "write": "frame",
            "end_to_end": "frame (decoded → written)",
            "track": "frame (tracking + counting)",
        }
        lines += [
            "",
            "| stage | per | count | mean ms | p50 ms | p90 ms |",
            "|---|---|---|---|---|---|",
        ]
        lines += [stage.row(name, units.get(name, "")) for name, stage in self.stages.items()]
        if self.tracking:
            lines += ["", *self.tracking_table()]
        for source in self.sources:
            lines += [f"{source.name}: skipped {f}: {r}" for f, r in source.skipped.items()]
        bad = self.incomplete
        if self.stopped_by:
            end = f"stopped by {self.stopped_by}"
        elif bad:
            ends = collections.Counter(s.status.split(":")[0] for s in bad)
            end = ", ".join(f"{n} source{'s' * (n > 1)} {what}" for what, n in ends.items())
        else:
            end = "all sources ended"
        lines += [
            "",
            f"{self.processed} frames processed in {self.wall_s:.2f} s: "
            f"{self.fps:.1f} FPS end to end ({end})",
        ]
        return "\n".join(lines)

    def tracking_table(self) -> list[str]:
        """Markdown: ids and peak live tracks per source, then a row per counted line
        direction and zone."""
        lines = ["| source | track ids | peak live tracks |", "|---|---|---|"]
        lines += [f"| {s.name} | {s.track_ids} | {s.peak_tracks} |" for s in self.sources]
        rows = []
        for source in self.sources:
            if source.counts is None:
                continue
            named = source.counts.named(self.names)
            for line, directions in named["lines"].items():
                for direction, counts in directions.items():
                    rows.append(f"| {source.name} | line {line} | {direction} | {plain(counts)} |")
            for zone, numbers in named["zones"].items():
                rows.append(
                    f"| {source.name} | zone {zone} | inside | {plain(numbers['inside'])} |"
                )
                rows.append(
                    f"| {source.name} | zone {zone} | entries | {plain(numbers['entries'])} |"
                )
        if rows:
            lines += ["", "| source | counter | what | per class |", "|---|---|---|---|", *rows]
        return lines


def plain(counts: dict[str, int]) -> str:
    """{"circle": 2, "square": 1} → "circle 2, square 1" ("0" when empty)."""
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "0"
