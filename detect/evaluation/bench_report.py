"""The bench's report as text: a markdown table of every row, what its columns mean, the ONNX
graph's postprocessing share, each model's distance from the FLOP floor, the deployment matrix
(file size, parity with PyTorch, time ÷ PyTorch eager and, from tools/bench.py, ÷ torchvision)
and the notes."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

from detect.evaluation.bench import UNTRAINED, BenchReport, BenchRow
from detect.evaluation.latency import PEAK_SIZE


def _ms(value: float) -> str:
    return "in graph" if math.isnan(value) else f"{value:.1f}"


def table_lines(report: BenchReport) -> list[str]:
    """The table, what its stage columns hold and, with the ONNX graph timed beside its network
    alone, postprocessing's share of the graph."""
    batch = report.settings["batch_size"]
    lines = [
        "| model | weights | params (M) | MAdds (G) | pre (ms) | net (ms) | post (ms) | "
        "total (ms) | total p90 | total min | images/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        latency = row.latency
        lines.append(
            f"| {row.name} | {row.weights} | {row.params / 1e6:.3f} | {row.madds / 1e9:.3f} | "
            f"{_ms(latency.preprocess.median)} | {latency.network.median:.1f} | "
            f"{_ms(latency.postprocess.median)} | {latency.total.median:.1f} | "
            f"{latency.total.p90:.1f} | {latency.total.min:.1f} | "
            f"{1000 * batch / latency.total.median:.1f} |"
        )
    lines.append("")
    lines.append(
        f"stage times are medians over the timed runs of a batch of {batch}; MAdds of one "
        "batch-1 forward; an exported graph runs its pre- (and post)processing inside (its "
        "time is under net; the numpy decoder of a network-only graph is inside it too)"
    )
    whole = [row for row in report.rows if row.name.endswith("[onnxruntime]")]
    alone = [row for row in report.rows if row.name.endswith("[onnxruntime, network only]")]
    if whole and alone:
        share = 1 - alone[0].latency.total.median / whole[0].latency.total.median
        lines.append(
            f"ONNX Runtime whole graph {whole[0].latency.total.median:.1f} ms, its network alone "
            f"{alone[0].latency.total.median:.1f} ms: postprocessing is {100 * share:.0f}% of it"
        )
    return lines


def _size(row: BenchRow) -> str:
    return "—" if row.file_bytes is None else f"{row.file_bytes / 1e6:.2f}"


def matrix_lines(
    report: BenchReport, torchvision: BenchRow | None = None, title: str = "deployment matrix"
) -> list[str]:
    """Per model, every row with its file size, its parity with PyTorch (paired on the bench
    images; quantised rows say how far), its median time and that time ÷ the PyTorch eager row's
    and, when ``torchvision`` ran beside them, ÷ torchvision's."""
    lines = ["", f"{title} (median total ms, interleaved; < 1×: faster):", ""]
    header = "| backend | file (MB) | parity with PyTorch | total (ms) | ÷ PyTorch eager |"
    lines += [header + (" ÷ torchvision |" if torchvision else ""), "|---|---|---|---|---|"]
    lines[-1] += "---|" if torchvision else ""
    for _, model_rows in itertools.groupby(report.rows, key=lambda row: row.config):
        rows = [row for row in model_rows if torchvision is None or row is not torchvision]
        eager = next((row for row in rows if row.name.endswith("[pytorch]")), None)
        for row in rows:
            total = row.latency.total.median
            line = f"| {row.name} | {_size(row)} | {row.parity or '—'} | {total:.1f} | " + (
                f"{total / eager.latency.total.median:.2f}× |" if eager else "— |"
            )
            if torchvision:
                line += f" {total / torchvision.latency.total.median:.2f}× |"
            lines.append(line)
    return lines


def floor_line(madds: int, rows: Sequence[BenchRow], peak: float, settings: dict[str, Any]) -> str:
    """The network's FLOPs (``madds`` per image) at the ``peak`` timed between the pipelines'
    runs, and the fastest of ``rows``' pipelines against it."""
    batch = settings["batch_size"]
    floor = 2 * madds * batch / (peak * 1e9) * 1000
    pipelines = [row for row in rows if not row.name.endswith("network only]")]
    fastest = min(pipelines, key=lambda row: row.latency.total.median)
    ours_ms = fastest.latency.total.median
    return (
        f"floor: {2 * madds * batch / 1e9:.2f} GFLOP (batch {batch}) "
        f"at this CPU's float32 peak ({peak:.0f} GFLOP/s: the median {PEAK_SIZE}² matrix "
        "product, timed between the pipelines' runs; the best of 10 before them: "
        f"{settings['peak_gflops']:.0f}; {settings['threads']} threads) "
        f"= {floor:.1f} ms; fastest of ours, {fastest.name}: {ours_ms:.1f} ms = "
        f"{ours_ms / floor:.2f}× the floor"
    )


def floor_lines(rows: Sequence[BenchRow], settings: dict[str, Any]) -> list[str]:
    """A floor line per model timed on the CPU (its rows, timed together, are adjacent)."""
    lines = []
    for _, model_rows in itertools.groupby(rows, key=lambda row: row.config):
        first, *rest = model_rows
        if first.peak_gflops:
            lines.append(floor_line(first.madds, [first, *rest], first.peak_gflops, settings))
    return lines


def closing_lines(report: BenchReport) -> list[str]:
    """Why untrained weights make postprocessing slow (when any row had them), then the notes."""
    lines = []
    if any(row.weights == UNTRAINED for row in report.rows):
        lines.append("")
        lines.append(
            "untrained weights: their logits are constant, so every score is 1/91 and ~300 "
            "candidates per class (~27,000 per image) pass the 0.001 score threshold to NMS: "
            "postprocess is slower than with trained weights"
        )
    for note in report.notes:
        lines.append(f"note: {note}")
    return lines


def format_report(report: BenchReport) -> str:
    """The table, the floor of each model, the notes."""
    return "\n".join(
        [
            *table_lines(report),
            *floor_lines(report.rows, report.settings),
            *matrix_lines(report),
            *closing_lines(report),
        ]
    )
