"""A quantised export told honestly: its speed beside fp32's on this machine, and what it costs
in AP on a labelled set."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from detect.data.coco import CocoDetection
from detect.evaluation.evaluate import evaluate
from detect.evaluation.latency import measure_runners, opaque_runner
from detect.export.deployed import DeployedDetector
from detect.inference.backends import ExportedPredictor


def int8_report(
    fp32: DeployedDetector,
    int8: DeployedDetector,
    images: Sequence[Tensor],
    val_set: CocoDetection | None = None,
) -> str:
    """One line: int8's median time ÷ fp32's on the first of ``images`` (interleaved runs, this
    machine), and its AP against fp32's on ``val_set`` when one is given."""
    runners = {
        name: opaque_runner(ExportedPredictor(detector), images[:1])
        for name, detector in (("fp32", fp32), ("int8", int8))
    }
    latency = measure_runners(runners, warmup=3, runs=20)
    ratio = latency["int8"].total.median / latency["fp32"].total.median
    verdict = "faster" if ratio < 1 else "SLOWER than fp32 here: prefer fp32 on this CPU"
    line = (
        f"int8 {latency['int8'].total.median:.1f} ms vs fp32 {latency['fp32'].total.median:.1f} "
        f"ms per image: {ratio:.2f}× the time ({verdict})"
    )
    if val_set is None:
        return line
    aps = {
        name: evaluate(ExportedPredictor(d), val_set, progress=False).compute()[0]["AP"]
        for name, d in (("fp32", fp32), ("int8", int8))
    }
    change = 100 * (aps["int8"] - aps["fp32"])
    return line + (
        f"; AP on its val split ({len(val_set)} images) {aps['int8']:.4f} vs fp32 "
        f"{aps['fp32']:.4f} ({change:+.2f} points)"
    )
