"""tools/bench.py's report as text: ``detect bench``'s (:mod:`detect.evaluation.bench_report`)
with ours ÷ torchvision per backend, whether each gave torchvision's detections, and the floor of
the compared model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchmarks.compare import Comparison
from benchmarks.twins import TORCHVISION_MADDS
from detect.evaluation.bench import STAGES, UNTRAINED, BenchReport, BenchRow
from detect.evaluation.bench_report import (
    closing_lines,
    floor_line,
    floor_lines,
    matrix_lines,
    table_lines,
)


@dataclass
class LatencyComparison(BenchReport):
    """The bench's rows, and ours against torchvision where it ran beside them."""

    comparison: Comparison[BenchRow] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "rows": [row.to_dict() for row in self.rows],
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "notes": self.notes,
        }


def comparison_lines(report: LatencyComparison) -> list[str]:
    """Each of our rows ÷ torchvision's, the floor of the compared model and, untrained, our
    MAdds against torchvision's published figure."""
    comparison = report.comparison
    lines = [
        "",
        "ours ÷ torchvision, median time on the same weights, interleaved (< 1: ours is faster):",
    ]
    for row, (same, detail) in zip(comparison.ours, comparison.checks, strict=True):
        ratios = comparison.time_ratios(row)
        shown = ", ".join(
            f"{stage} {ratios[stage]:.2f}×" for stage in STAGES if not math.isnan(ratios[stage])
        )
        lines.append(f"- {row.name}: {shown}; detections: {detail}")
        if not same:
            lines.append(
                "  warning: NOT the same detections as torchvision, so this ratio does not "
                "compare like with like"
            )
    peak = report.settings.get("peak_gflops_interleaved")
    if peak:
        lines.append(floor_line(comparison.theirs.madds, comparison.ours, peak, report.settings))
    if comparison.theirs.weights == UNTRAINED:
        madds = comparison.ours[0].madds
        lines.append(
            f"MAdds {madds / 1e9:.3f} G vs torchvision's published "
            f"{TORCHVISION_MADDS / 1e9:.3f} G ({100 * (madds / TORCHVISION_MADDS - 1):+.1f}%)"
        )
    return lines


def format_report(report: LatencyComparison) -> str:
    """The table, the comparison (when torchvision ran), the floor of every other model, the
    notes."""
    lines = table_lines(report)
    others = report.rows
    if report.comparison is not None:
        lines += comparison_lines(report)
        others = [row for row in report.rows if row.config != report.comparison.theirs.config]
    lines += floor_lines(others, report.settings)
    lines += matrix_lines(report, report.comparison.theirs if report.comparison else None)
    lines += closing_lines(report)
    return "\n".join(lines)
