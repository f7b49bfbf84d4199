"""tools/bench.py: inference latency, params and MAdds of SSDLite configurations or a checkpoint;
optionally side by side with torchvision's ``ssdlite320_mobilenet_v3_large`` on the same weights.

Every configuration (backbone × width × input size, 91 COCO classes as torchvision's head) is
built from ``seed`` with untrained weights; a checkpoint brings its trained ones. Params and
MAdds come from :func:`detect.evaluation.cost.counted_cost` (FLOPs / 2 of one batch-1 forward of
the network: backbone, extras and head; not pre- or postprocessing). Latency comes from
:mod:`detect.evaluation.latency` on real images: the first ``batch_size`` JPEGs (sorted by name)
of ``images_dir``, decoded once to uint8 before timing; ``images_dir=None`` uses seeded random
480×640 images instead (a missing folder is an error, not a silent fallback).

Postprocessing time depends on how many candidates pass the score threshold (0.001 as
torchvision): an untrained network's logits are constant, so every score is 1/91 and 300 per
class (~27,000 per image) go to NMS, and torchvision's per-class Python loop is at its slowest
there. ``weights=trained_like`` gives torchvision's configuration a trained score distribution
instead: its seeded model trained briefly on real COCO images (:mod:`.trained_like`, cached).
The table says which weights were timed.

Our backends (``backends``): ``pytorch`` (eager, Conv+BN folded), ``pytorch_compiled`` (the
same under ``torch.compile``, compiled before timing), ``onnxruntime`` (the whole pipeline as
one ONNX graph, fp32) and ``onnxruntime_int8`` (the same, statically quantised, calibrated on
``calibration_images`` real images). The torchvision comparison builds its model seeded
(``weights=None``), loads that state dict into ours (``load_torchvision``) and times every
backend and torchvision in one interleaved loop; the ratio is ours ÷ torchvision's median time
per stage (< 1: ours is faster). Every fp32 backend must give torchvision's detections on the
first image (within float tolerance), which checks that the same network ran.

The FLOP floor of that comparison is the network's FLOPs at this CPU's float32 peak, the median
of 2048² matrix products timed in the same loop between the pipelines' runs (one more runner):
a peak measured only before them, best of ten, would meet none of the load they met, and the
floor ratio would swing with it.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime
import torch
import torchvision
from omegaconf import DictConfig
from torch import Tensor, nn

from detect.benchmarks.compare import Comparison
from detect.benchmarks.trained_like import TRAINED_LIKE, TrainedLike, trained_like_state_dict
from detect.benchmarks.twins import (
    NUM_CLASSES,
    TORCHVISION,
    TORCHVISION_MADDS,
    TORCHVISION_SIZE,
    TorchvisionNetwork,
    in_torchvision_labels,
    torchvision_runner,
    torchvision_ssdlite,
    torchvision_twin,
)
from detect.data.categories import CategoryMap
from detect.data.images import load_images
from detect.errors import ConfigError
from detect.evaluation.cost import counted_cost
from detect.evaluation.latency import (
    PEAK_SIZE,
    Latency,
    Runner,
    StageTimes,
    detector_runner,
    matmul_gflops,
    matmul_runner,
    measure_runners,
    opaque_runner,
    peak_gflops,
    threads,
)
from detect.export.fuse import fuse_conv_bn
from detect.export.metadata import ExportMetadata
from detect.export.onnx import export_bytes, match_detections, metadata_for, to_numpy
from detect.export.quantize import quantize_int8
from detect.export.runtime import OnnxDetector
from detect.inference.backends import ExportedPredictor
from detect.models import SSDLite, load_torchvision, ssdlite
from detect.models.backbones import backbone_options
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint

BACKEND_NAMES = (
    "pytorch",
    "pytorch_compiled",
    "onnxruntime",  # the whole pipeline in one graph
    "onnxruntime_int8",
    "onnxruntime_raw",  # the network alone + the numpy decoder (what delegates run)
    "litert",  # .tflite (raw heads) on LiteRT's XNNPACK + the numpy decoder
    "litert_fp16",
    "litert_int8",
)
SYNTHETIC_SHAPE = (3, 480, 640)  # a typical COCO image, for images_dir=None
STAGES = ("preprocess", "network", "postprocess", "total")
UNTRAINED = "untrained (seeded random init)"


@dataclass
class BenchRow:
    """One timed model: its name, what it is, its cost and its latency."""

    name: str
    params: int
    madds: int
    latency: Latency
    weights: str
    config: dict[str, Any]

    def median_seconds(self) -> dict[str, float]:
        return {stage: getattr(self.latency, stage).median / 1000 for stage in STAGES}

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.name,
            "params": self.params,
            "madds": self.madds,
            "weights": self.weights,
            "config": self.config,
            "latency_ms": self.latency.to_dict(),
        }


@dataclass
class BenchReport:
    rows: list[BenchRow]
    comparison: Comparison[BenchRow] | None
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "rows": [row.to_dict() for row in self.rows],
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "notes": self.notes,
        }

    def to_json(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")


def bench_images(images_dir: str | Path | None, count: int, seed: int = 0) -> list[Tensor]:
    """The first ``count`` images of ``images_dir`` (by name) as (3, H, W) uint8 RGB tensors;
    ``None``: ``count`` seeded random 480×640 images."""
    if images_dir is not None:
        return load_images(images_dir, count)
    if count < 1:
        raise ConfigError(f"batch_size must be at least 1, got {count}")
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randint(0, 256, SYNTHETIC_SHAPE, dtype=torch.uint8, generator=generator)
        for _ in range(count)
    ]


def cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def with_reduced_tail(backbone: str, reduced_tail: bool) -> dict[str, Any]:
    """``reduced_tail`` for the backbones that have it (V3); v1 and v2 take no options."""
    try:
        options = backbone_options(backbone)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return {"reduced_tail": reduced_tail} if "reduced_tail" in options else {}


def config_name(backbone: str, width: float, size: int, options: dict[str, Any]) -> str:
    tail = " reduced tail" if options.get("reduced_tail") else ""
    return f"ssdlite {backbone} ×{width:g} {size}{tail}"


def is_torchvision_config(backbone: str, width: float, size: int, options: dict) -> bool:
    """Whether the configuration is torchvision's ``ssdlite320_mobilenet_v3_large``."""
    return (backbone, float(width), size, options.get("reduced_tail")) == (
        "v3_large",
        1.0,
        TORCHVISION_SIZE,
        True,
    )


def compare_detections(
    ours: list[dict[str, Tensor]], theirs: list[dict[str, Tensor]]
) -> tuple[bool, str]:
    """Same detections on the first image: count, and each detection paired with one of the same
    label, box and score within tolerance (order may differ between near-tied scores)."""
    mine, reference = to_numpy(ours[0]), to_numpy(theirs[0])
    count = len(reference["scores"])
    if len(mine["scores"]) != count:
        return False, f"{len(mine['scores'])} detections, torchvision {count}"
    if count == 0:
        return True, "no detections from either"
    unmatched, box, score = match_detections(mine, reference)
    detail = (
        f"{count} detections each on the first image, "
        f"{'all paired' if not unmatched else f'{unmatched} UNPAIRED'}; "
        f"max |Δbox| {box:.2g} px, max |Δscore| {score:.2g}"
    )
    if bool((reference["scores"] == reference["scores"][0]).all()):
        detail += (
            "; all scores are equal (an untrained network's outputs are constant), so this "
            "checks anchors, decoding and NMS, not the networks"
        )
        if unmatched:  # NMS may keep any one of equally scored boxes: both answers are right
            return True, detail + "; tied scores: which tied boxes NMS keeps is arbitrary"
    return unmatched == 0, detail


@dataclass
class Backends:
    """Which of our backends to time, and what the int8 one is calibrated on."""

    names: Sequence[str] = ("pytorch",)
    calibration_dir: str | Path | None = None
    calibration_images: int = 32
    spin: bool = True  # ONNX Runtime's workers busy-wait within a run (see session_options)

    def __post_init__(self) -> None:
        unknown = [name for name in self.names if name not in BACKEND_NAMES]
        if unknown or not self.names:
            raise ConfigError(
                f"unknown backend(s) {unknown}; choose from {', '.join(BACKEND_NAMES)}"
            )


def backend_runners(
    name: str,
    model: SSDLite,
    images: list[Tensor],
    backends: Backends,
    device: str,
    categories: CategoryMap | None = None,
) -> dict[str, Runner]:
    """A timed runner per backend; rows are named ``<name> [<backend>]``."""
    runners: dict[str, Runner] = {}
    fp32_export: bytes | None = None
    tflite_fp32: bytes | None = None
    threads = torch.get_num_threads()
    for backend in backends.names:
        if backend.startswith("pytorch"):  # as load_detector serves it: Conv+BN folded
            fused = fuse_conv_bn(model)
            network = torch.compile(fused) if backend == "pytorch_compiled" else fused
            runners[f"{name} [{backend}]"] = detector_runner(network, images, device)
            continue
        cuda = device != "cpu"  # ONNX Runtime's CUDA provider (onnxruntime-gpu), fp32 graphs
        if cuda and backend not in ("onnxruntime", "onnxruntime_raw"):
            raise ConfigError(f"backend {backend} runs on the CPU; use device=cpu")
        if backend.startswith("litert"):
            from detect.export.litert import export_tflite  # the litert extra
            from detect.export.litert_runtime import LiteRTDetector

            precision = backend.split("_")[1] if "_" in backend else "fp32"
            raw = _metadata(model, categories, "raw")
            if tflite_fp32 is None:  # one conversion for every LiteRT variant
                tflite_fp32 = export_tflite(model, raw)
            data = export_tflite(model, raw, precision, converted=tflite_fp32)
            detector = LiteRTDetector(data, threads)
        elif backend == "onnxruntime_raw":
            data = export_bytes(model, _metadata(model, categories, "raw"))
            detector = OnnxDetector(data, threads, backends.spin, cuda)
        else:
            if fp32_export is None:
                fp32_export = export_bytes(model, _metadata(model, categories))
            exported = fp32_export
            if backend == "onnxruntime_int8":
                calibration = bench_images(backends.calibration_dir, backends.calibration_images)
                exported = quantize_int8(exported, [image.numpy() for image in calibration])
            detector = OnnxDetector(exported, threads, backends.spin, cuda)
        runners[f"{name} [{backend}]"] = opaque_runner(ExportedPredictor(detector), images)
        if backend == "onnxruntime":  # the same network without its postprocessing: the share
            raw_graph = export_bytes(model, _metadata(model, categories, "raw"))
            raw = OnnxDetector(raw_graph, threads, backends.spin, cuda)
            runners[f"{name} [onnxruntime, network only]"] = session_runner(raw, images)
    return runners


def session_runner(detector: OnnxDetector, images: list[Tensor]) -> Runner:
    """One timed ``session.run`` of a network-only graph per image, no decoding (its detections
    are left empty: they are not compared)."""
    arrays = [image.numpy()[None] for image in images]

    def run() -> tuple[StageTimes, list]:
        start = time.perf_counter()
        for array in arrays:
            detector.run(array)
        return (math.nan, time.perf_counter() - start, math.nan), []

    return run


def _metadata(
    model: SSDLite, categories: CategoryMap | None, outputs: str = "detections"
) -> ExportMetadata:
    """The checkpoint's categories, or placeholders 1..K for an untrained configuration."""
    if categories is None:
        ids = tuple(range(1, model.num_classes))
        categories = CategoryMap(ids, tuple(f"class {i}" for i in ids))
    return metadata_for(model, categories, {}, {}, outputs)


MATRIX_PRODUCT = "matrix product"  # the floor's peak, one more runner in the comparison


def _compare(
    name: str,
    model: SSDLite,
    tv: nn.Module,
    images: list[Tensor],
    weights: str,
    config: dict[str, Any],
    settings: dict[str, Any],
    backends: Backends,
    categories: CategoryMap | None = None,
) -> tuple[Comparison, float | None]:
    """Ours against torchvision, interleaved, and (on the CPU) the float32 peak of the matrix
    products interleaved with them (GFLOP/s, median)."""
    device, warmup, runs = settings["device"], settings["warmup"], settings["runs"]
    ours_runners = backend_runners(name, model, images, backends, device, categories)
    theirs_run = torchvision_runner(tv, images, device)
    reference = theirs_run()[1]
    checks = []
    for row_name, runner in ours_runners.items():
        if row_name.endswith(("_int8]", "_fp16]")):
            checks.append((True, "quantised: not expected to give the same detections"))
        elif row_name.endswith("network only]"):
            checks.append((True, "the network alone: no detections to compare"))
        else:
            checks.append(compare_detections(in_torchvision_labels(model, runner()[1]), reference))
    timed = {**ours_runners, TORCHVISION: theirs_run}
    if device == "cpu":  # the floor's peak, timed between the pipelines' runs
        timed[MATRIX_PRODUCT] = matmul_runner()
    latency = measure_runners(timed, warmup=warmup, runs=runs)
    cost, tv_cost = counted_cost(model, model.size), counted_cost(TorchvisionNetwork(tv), 320)
    comparison = Comparison(
        BenchRow(TORCHVISION, tv_cost.params, tv_cost.madds, latency[TORCHVISION], weights, config),
        [
            BenchRow(row, cost.params, cost.madds, latency[row], weights, config)
            for row in ours_runners
        ],
        checks,
    )
    return comparison, matmul_gflops(latency[MATRIX_PRODUCT]) if device == "cpu" else None


def torchvision_weights(weights: str, seed: int, trained_like: TrainedLike | None) -> nn.Module:
    """torchvision's SSDLite320, seeded; ``trained_like``: then trained briefly on COCO images."""
    tv = torchvision_ssdlite(seed)
    if weights == TRAINED_LIKE:
        state = trained_like_state_dict(
            tv, trained_like.dataset(), trained_like.steps, trained_like.cache(seed)
        )
        tv.load_state_dict(state)
    return tv.eval()


def bench(
    backbones: Sequence[str] = ("v3_large",),
    widths: Sequence[float] = (1.0,),
    sizes: Sequence[int] = (320,),
    reduced_tail: bool = True,
    ckpt: str | Path | None = None,
    device: str = "cpu",
    num_threads: int = 2,
    batch_size: int = 1,
    warmup: int = 10,
    runs: int = 50,
    compare_torchvision: bool = True,
    images_dir: str | Path | None = None,
    seed: int = 0,
    backends: Backends | None = None,
    weights: str = "untrained",
    trained_like: TrainedLike | None = None,
    hub: HubConfig | None = None,
) -> BenchReport:
    """Time every configuration (or the checkpoint) on one batch; see the module doc."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={device} but CUDA is not available here; use device=cpu")
    if weights not in ("untrained", TRAINED_LIKE):
        raise ConfigError(f"weights must be untrained or {TRAINED_LIKE}, got {weights!r}")
    backends = backends or Backends()
    if weights == TRAINED_LIKE and trained_like is None:
        raise ConfigError("weights=trained_like needs trained_like (its images and cache)")
    images = bench_images(images_dir, batch_size, seed)
    settings = {
        "device": device,
        "device_name": torch.cuda.get_device_name(device)
        if device.startswith("cuda")
        else cpu_name(),
        "threads": num_threads,
        "batch_size": batch_size,
        "warmup": warmup,
        "runs": runs,
        "images": str(images_dir) if images_dir is not None else "random 480×640 uint8",
        "image_sizes": [list(image.shape[-2:]) for image in images],
        "seed": seed,
        "backends": list(backends.names),
        "onnxruntime_spin": backends.spin,
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "onnxruntime": onnxruntime.__version__,
        },
    }
    rows: list[BenchRow] = []
    comparison: Comparison | None = None
    notes: list[str] = []
    with threads(num_threads):
        if device == "cpu":
            settings["peak_gflops"] = peak_gflops()
        if ckpt is not None:
            checkpoint = open_checkpoint(ckpt, hub)
            model, categories = checkpoint.model, checkpoint.categories
            label = f"trained: {ckpt}"
            config = {"checkpoint": str(ckpt), "size": model.size}
            name = f"checkpoint {Path(ckpt).name} ({model.size})"
            tv, why = torchvision_twin(model, seed) if compare_torchvision else (None, "")
            if tv is not None:
                comparison, settings["peak_gflops_interleaved"] = _compare(
                    name, model, tv, images, label, config, settings, backends, categories
                )
                rows += [*comparison.ours, comparison.theirs]
            else:
                rows += _measure(name, model, images, label, config, settings, backends, categories)
                if compare_torchvision:
                    notes.append(f"torchvision comparison skipped: {why}")
        else:
            compared = False
            for backbone in backbones:
                options = with_reduced_tail(backbone, reduced_tail)
                for width in widths:
                    for size in sizes:
                        name = config_name(backbone, width, size, options)
                        config = {
                            "backbone": backbone,
                            "width_mult": float(width),
                            "size": int(size),
                            **options,
                        }
                        if compare_torchvision and is_torchvision_config(
                            backbone, width, size, options
                        ):
                            tv = torchvision_weights(weights, seed, trained_like)
                            model = ssdlite(backbone, width, NUM_CLASSES, size, **options)
                            load_torchvision(model, tv.state_dict())
                            label = (
                                trained_like.label(seed) if weights == TRAINED_LIKE else UNTRAINED
                            )
                            comparison, settings["peak_gflops_interleaved"] = _compare(
                                name, model, tv, images, label, config, settings, backends
                            )
                            rows += [*comparison.ours, comparison.theirs]
                            compared = True
                        else:
                            torch.manual_seed(seed)
                            model = ssdlite(backbone, width, NUM_CLASSES, size, **options)
                            rows += _measure(
                                name, model, images, UNTRAINED, config, settings, backends
                            )
            if compare_torchvision and not compared:
                notes.append(
                    "torchvision comparison skipped: it needs the configuration torchvision "
                    "ships (v3_large, width 1.0, reduced_tail=true, size 320), which is not "
                    "among those asked for"
                )
            if weights == TRAINED_LIKE and len(rows) > (len(backends.names) + 1) * compared:
                notes.append(
                    "trained-like weights exist for torchvision's configuration only; the "
                    "other configurations ran untrained"
                )
    return BenchReport(rows, comparison, settings, notes)


def _measure(
    name: str,
    model: SSDLite,
    images: list[Tensor],
    weights: str,
    config: dict[str, Any],
    settings: dict[str, Any],
    backends: Backends,
    categories: CategoryMap | None = None,
) -> list[BenchRow]:
    runners = backend_runners(name, model, images, backends, settings["device"], categories)
    latency = measure_runners(runners, warmup=settings["warmup"], runs=settings["runs"])
    cost = counted_cost(model, model.size)
    return [
        BenchRow(row, cost.params, cost.madds, latency[row], weights, config) for row in runners
    ]


def _ms(value: float) -> str:
    return "in graph" if math.isnan(value) else f"{value:.1f}"


def format_report(report: BenchReport) -> str:
    """A markdown table of every row, then the torchvision comparison and the notes."""
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
    comparison = report.comparison
    if comparison is not None:
        lines.append("")
        lines.append(
            "ours ÷ torchvision, median time on the same weights, interleaved (< 1: ours is "
            "faster):"
        )
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
            floor = 2 * comparison.theirs.madds * batch / (peak * 1e9) * 1000
            pipelines = [row for row in comparison.ours if not row.name.endswith("network only]")]
            fastest = min(pipelines, key=lambda row: row.latency.total.median)
            ours_ms = fastest.latency.total.median
            lines.append(
                f"floor: {2 * comparison.theirs.madds * batch / 1e9:.2f} GFLOP (batch {batch}) "
                f"at this CPU's float32 peak ({peak:.0f} GFLOP/s: the median {PEAK_SIZE}² matrix "
                "product, timed between the pipelines' runs; the best of 10 before them: "
                f"{report.settings['peak_gflops']:.0f}; {report.settings['threads']} threads) "
                f"= {floor:.1f} ms; fastest of ours, {fastest.name}: {ours_ms:.1f} ms = "
                f"{ours_ms / floor:.2f}× the floor"
            )
        if comparison.theirs.weights == UNTRAINED:
            madds = comparison.ours[0].madds
            lines.append(
                f"MAdds {madds / 1e9:.3f} G vs torchvision's published "
                f"{TORCHVISION_MADDS / 1e9:.3f} G ({100 * (madds / TORCHVISION_MADDS - 1):+.1f}%)"
            )
    if any(row.weights == UNTRAINED for row in report.rows):
        lines.append("")
        lines.append(
            "untrained weights: their logits are constant, so every score is 1/91 and ~300 "
            "candidates per class (~27,000 per image) pass the 0.001 score threshold to NMS: "
            "postprocess is slower than with trained weights"
        )
    for note in report.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def run_bench(cfg: DictConfig) -> BenchReport:
    """tools/bench.py: time, print the table, write the json."""
    report = bench(
        backbones=list(cfg.backbones),
        widths=list(cfg.widths),
        sizes=list(cfg.sizes),
        reduced_tail=cfg.reduced_tail,
        ckpt=cfg.ckpt,
        device=cfg.device,
        num_threads=cfg.threads,
        batch_size=cfg.batch_size,
        warmup=cfg.warmup,
        runs=cfg.runs,
        compare_torchvision=cfg.compare_torchvision,
        images_dir=cfg.images_dir,
        seed=cfg.seed,
        backends=Backends(
            list(cfg.backends), cfg.calibration_dir, cfg.calibration_images, cfg.spin
        ),
        weights=cfg.weights,
        trained_like=TrainedLike(**cfg.trained_like),
        hub=HubConfig(**cfg.hub),
    )
    settings = report.settings
    print(
        f"{settings['device']} ({settings['device_name']}), {cfg.threads} threads, batch "
        f"{cfg.batch_size}; images: {settings['images']}; {cfg.warmup} warm-up + "
        f"{cfg.runs} timed runs per model\n"
    )
    print(format_report(report))
    report.to_json(cfg.output)
    print(f"\nwritten to {cfg.output}")
    return report
