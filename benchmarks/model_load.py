"""Load time of a checkpoint, ``Model(ckpt)`` (``backend=auto``) on the CPU: cold (an empty
export cache: the checkpoint read, exported to ONNX and checked against PyTorch) against warm
(its checked export read back from the cache), and an ``.onnx`` file loaded directly for
reference.

The three loads are timed interleaved, round after round (absolute times swing on a shared
machine; medians measured together hold), each cold load into a new empty cache folder. The
default checkpoint is realistic in size: torchvision's SSDLite320 V3-Large architecture over
COCO's 80 categories, untrained, with a background prior on its class layer so that no anchor
passes the score threshold. The parity check is then at its cheapest, so the cold time is a
lower bound and the cold ÷ warm ratio a conservative one.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torchvision.models.detection import SSDLite320_MobileNet_V3_Large_Weights

from detect import Model
from detect.models.factory import build_detector
from detect.weights.checkpoint import MODEL_PREFIX, checkpoint_meta
from detect.weights.torchvision import DETECTORS, coco_categories

ARCHITECTURE = "ssdlite320_mobilenet_v3_large"
BACKGROUND_PRIOR = 8.0  # background logit: each class 1/(e⁸ + 80) ≈ 3e-4 < the 0.001 threshold
FROM_CACHE = "from the export cache"
KINDS = ("cold", "warm", "onnx")
LABELS = {
    "cold": "cold: empty cache (read, export, check, keep)",
    "warm": "warm: the cached export",
    "onnx": ".onnx file loaded directly",
}


def realistic_checkpoint(path: Path) -> Path:
    """A detect checkpoint of the SSDLite320 V3-Large architecture over COCO's 80 categories
    (3.3M parameters), written as training writes one (weights, optimiser state, metadata)."""
    categories, _ = coco_categories(
        SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["categories"]
    )
    model_config = DETECTORS[ARCHITECTURE].model_config
    model = build_detector(model_config, categories.num_classes)
    with torch.no_grad():
        for block in model.head.classification:
            block[-1].bias.view(-1, model.head.outputs)[:, 0] = BACKGROUND_PRIOR
    state = {MODEL_PREFIX + key: value for key, value in model.state_dict().items()}
    # a training checkpoint also holds the optimiser's state (SGD momentum: one more copy of the
    # weights), which every load reads and hashes too
    momentum = {
        i: {"momentum_buffer": torch.zeros_like(p)} for i, p in enumerate(model.parameters())
    }
    meta = checkpoint_meta(model_config, categories, {"benchmark": "model_load"})
    torch.save(
        {
            "state_dict": state,
            "optimizer_states": [{"state": momentum}],
            "epoch": 0,
            "global_step": 0,
            "detect": meta,
        },
        path,
    )
    return path


def measure(
    checkpoint: Path, rounds: int, threads: int | None, workdir: Path
) -> dict[str, list[float]]:
    """Seconds per load of each kind, ``rounds`` of each, interleaved; after one untimed cold
    load that fills the warm cache and gives the ``.onnx`` file (the entry's graph itself)."""
    warm_cache = workdir / "warm"
    first = Model(checkpoint, threads=threads, cache_dir=warm_cache)
    if first.backend != "onnxruntime":
        raise RuntimeError(f"backend=auto did not choose ONNX Runtime: {first.loaded.description}")
    [entry] = warm_cache.glob("*.onnx")
    onnx_file = Path(shutil.copy(entry, workdir / "model.onnx"))
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for round_ in range(rounds):
        for kind in KINDS[round_ % 3 :] + KINDS[: round_ % 3]:  # each kind first in turn
            cache = warm_cache if kind == "warm" else workdir / f"cold-{round_}"
            start = time.perf_counter()
            model = Model(
                onnx_file if kind == "onnx" else checkpoint, threads=threads, cache_dir=cache
            )
            times[kind].append(time.perf_counter() - start)
            if (kind == "warm") != (FROM_CACHE in model.loaded.description):
                raise RuntimeError(f"{kind} load: {model.loaded.description}")
    return times


def format_table(times: dict[str, list[float]], checkpoint: Path) -> str:
    """Median and min seconds per kind of load, each median over the warm one's."""
    warm = statistics.median(times["warm"])
    size = checkpoint.stat().st_size / 2**20
    lines = [
        f"Model({checkpoint.name}) ({size:.1f} MiB), backend=auto on the CPU, "
        f"{len(times['warm'])} rounds interleaved",
        "| load | median s | min s | ÷ warm median |",
        "|---|---|---|---|",
    ]
    for kind in KINDS:
        median = statistics.median(times[kind])
        lines.append(
            f"| {LABELS[kind]} | {median:.3f} | {min(times[kind]):.3f} | {median / warm:.2f}× |"
        )
    ratio = statistics.median(times["cold"]) / warm
    verdict = "meets" if ratio >= 5 else "MISSES"
    lines.append(f"cold ÷ warm: {ratio:.1f}× ({verdict} the 5× target)")
    return "\n".join(lines)


def run(checkpoint: Path | None, rounds: int, threads: int | None) -> str:
    """Measure ``checkpoint`` (None: :func:`realistic_checkpoint`) and return the table."""
    with tempfile.TemporaryDirectory(prefix="model_load_") as folder:
        workdir = Path(folder)
        checkpoint = checkpoint or realistic_checkpoint(workdir / f"{ARCHITECTURE}_80.ckpt")
        return format_table(measure(checkpoint, rounds, threads, workdir), checkpoint)
