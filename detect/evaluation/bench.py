"""Inference latency, params and MAdds of SSDLite configurations or a checkpoint; optionally side
by side with torchvision's ``ssdlite320_mobilenet_v3_large`` on the same weights.

Every configuration (backbone × width × input size, 91 COCO classes as torchvision's head) is
built from ``seed`` with untrained weights; a checkpoint brings its trained ones. Params and
MAdds come from :func:`detect.evaluation.cost.counted_cost` (FLOPs / 2 of one batch-1 forward of
the network: backbone, extras and head; not pre- or postprocessing). Latency comes from
:mod:`detect.evaluation.latency` on real images: the first ``batch_size`` JPEGs (sorted by name)
of ``images_dir``, decoded once to uint8 before timing; ``images_dir=None`` uses seeded random
480×640 images instead (a missing folder is an error, not a silent fallback).

Postprocessing time depends on how many candidates pass the score threshold (0.001 as
torchvision): an untrained network's logits are constant, so every score is 1/91 and 300 per
class (~27,000 per image) go to NMS — far more than a trained model gives, and torchvision's
per-class Python loop is at its slowest there. The table says which weights were timed.

The torchvision comparison builds its model seeded (``weights=None``), loads that state dict
into ours (``load_torchvision``) and times both in one interleaved loop; the ratio is ours ÷
torchvision's median time per stage (< 1: ours is faster). Both must give the same detections
on the first image (within float tolerance), which checks that the same network ran.
"""

from __future__ import annotations

import inspect
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import Tensor, nn
from torchvision.models.detection import (
    SSDLite320_MobileNet_V3_Large_Weights,
    ssdlite320_mobilenet_v3_large,
)

from detect.data.coco import read_image
from detect.evaluation.cost import counted_cost
from detect.evaluation.latency import (
    Latency,
    detector_runner,
    measure_runners,
    threads,
    torchvision_runner,
)
from detect.models import SSDLite, load_torchvision, ssdlite
from detect.models.backbones import SPECS
from detect.models.convert import remap_in_order

NUM_CLASSES = 91  # torchvision's COCO head: background + 90 category ids
TORCHVISION = "torchvision ssdlite320_mobilenet_v3_large"
TORCHVISION_SIZE = 320
# torchvision's published cost of ssdlite320_mobilenet_v3_large (its "GFLOPS" are MAdds)
TORCHVISION_MADDS = SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["_ops"] * 1e9
SYNTHETIC_SHAPE = (3, 480, 640)  # a typical COCO image, for images_dir=None
STAGES = ("preprocess", "network", "postprocess", "total")
UNTRAINED = "untrained (seeded random init)"
BOX_TOLERANCE = 1e-2  # px in the original image: same detections despite float reordering
SCORE_TOLERANCE = 1e-5


@dataclass
class BenchRow:
    """One timed model: its name, what it is, its cost and its latency."""

    model: str
    params: int
    madds: int
    latency: Latency
    weights: str
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "params": self.params,
            "madds": self.madds,
            "weights": self.weights,
            "config": self.config,
            "latency_ms": self.latency.to_dict(),
        }


@dataclass
class Comparison:
    """Ours against torchvision's SSDLite on the same weights, timed interleaved."""

    ours: BenchRow
    theirs: BenchRow
    same_detections: bool
    detail: str

    @property
    def ratios(self) -> dict[str, float]:
        """Ours ÷ torchvision's median time per stage (< 1: ours is faster)."""
        return {
            stage: getattr(self.ours.latency, stage).median
            / getattr(self.theirs.latency, stage).median
            for stage in STAGES
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "ours": self.ours.model,
            "theirs": self.theirs.model,
            "ratio_ours_over_theirs": self.ratios,
            "same_detections": self.same_detections,
            "detail": self.detail,
        }


@dataclass
class BenchReport:
    rows: list[BenchRow]
    comparison: Comparison | None
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


def load_images(images_dir: str | Path | None, count: int, seed: int = 0) -> list[Tensor]:
    """The first ``count`` JPEGs of ``images_dir`` (by name) as (3, H, W) uint8 RGB tensors;
    ``None``: ``count`` seeded random 480×640 images."""
    if count < 1:
        raise ValueError(f"batch_size must be at least 1, got {count}")
    if images_dir is None:
        generator = torch.Generator().manual_seed(seed)
        return [
            torch.randint(0, 256, SYNTHETIC_SHAPE, dtype=torch.uint8, generator=generator)
            for _ in range(count)
        ]
    folder = Path(images_dir)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"image folder not found: {folder}; check images_dir (relative to the directory the "
            "tool runs in), or set images_dir=null for random images"
        )
    files = sorted(folder.glob("*.jpg"))
    if len(files) < count:
        raise ValueError(f"{folder} holds {len(files)} .jpg images, fewer than batch_size={count}")
    images = []
    for file in files[:count]:
        image = read_image(file)
        if image is None:
            raise ValueError(f"cannot decode {file}")
        images.append(torch.from_numpy(image).permute(2, 0, 1).contiguous())
    return images


def cpu_name() -> str:
    """The CPU's model name (Linux), else the machine type."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def backbone_options(backbone: str, reduced_tail: bool) -> dict[str, Any]:
    """``reduced_tail`` for the backbones that have it (V3); v1 and v2 take no options."""
    if backbone not in SPECS:  # the same error as building it
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {', '.join(SPECS)}")
    return {"reduced_tail": reduced_tail} if "reduced_tail" in _options(backbone) else {}


def _options(backbone: str) -> list[str]:
    return [p for p in inspect.signature(SPECS[backbone]).parameters if p != "width_mult"]


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


def torchvision_ssdlite(seed: int, num_classes: int = NUM_CLASSES) -> nn.Module:
    """torchvision's SSDLite320 with seeded initial weights, nothing pretrained, in eval mode."""
    torch.manual_seed(seed)
    return ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=num_classes
    ).eval()


class TorchvisionNetwork(nn.Module):
    """torchvision SSD's network alone (backbone + head), for counting its cost."""

    def __init__(self, tv: nn.Module) -> None:
        super().__init__()
        self.backbone, self.head = tv.backbone, tv.head

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        return self.head(list(self.backbone(images).values()))


def torchvision_twin(model: SSDLite, seed: int) -> tuple[nn.Module | None, str]:
    """torchvision's SSDLite320 holding ``model``'s weights and postprocess settings, or None
    and why not (another size or architecture)."""
    if model.size != TORCHVISION_SIZE:
        return None, f"input {model.size}, torchvision's SSDLite is fixed at {TORCHVISION_SIZE}"
    tv = torchvision_ssdlite(seed, model.num_classes)
    try:
        tv.load_state_dict(remap_in_order(model.state_dict(), tv.state_dict()))
    except ValueError as error:
        return None, f"its architecture is not torchvision's SSDLite320 ({error})"
    config = model.postprocess_config
    tv.score_thresh, tv.nms_thresh = config.score_thresh, config.nms_thresh
    tv.topk_candidates, tv.detections_per_img = config.topk_per_class, config.detections_per_image
    return tv, ""


def compare_detections(
    ours: list[dict[str, Tensor]], theirs: list[dict[str, Tensor]]
) -> tuple[bool, str]:
    """Same detections on the first image: count, labels, boxes and scores within tolerance."""
    mine, reference = ours[0], theirs[0]
    count = len(reference["scores"])
    if len(mine["scores"]) != count:
        return False, f"{len(mine['scores'])} detections, torchvision {count}"
    if count == 0:
        return True, "no detections from either"
    labels = bool(torch.equal(mine["labels"].cpu(), reference["labels"].cpu()))
    box = (mine["boxes"] - reference["boxes"]).abs().max().item()
    score = (mine["scores"] - reference["scores"]).abs().max().item()
    same = labels and box <= BOX_TOLERANCE and score <= SCORE_TOLERANCE
    detail = (
        f"{count} detections each on the first image; labels {'equal' if labels else 'DIFFER'}; "
        f"max |Δbox| {box:.2g} px, max |Δscore| {score:.2g}"
    )
    if bool((reference["scores"] == reference["scores"][0]).all()):
        detail += (
            "; all scores are equal (an untrained network's outputs are constant), so this "
            "checks anchors, decoding and NMS, not the networks"
        )
    return same, detail


def _compare(
    name: str,
    model: SSDLite,
    tv: nn.Module,
    images: list[Tensor],
    weights: str,
    config: dict[str, Any],
    settings: dict[str, Any],
) -> Comparison:
    device, warmup, runs = settings["device"], settings["warmup"], settings["runs"]
    ours_run = detector_runner(model, images, device)
    theirs_run = torchvision_runner(tv, images, device)
    same, detail = compare_detections(ours_run()[1], theirs_run()[1])
    latency = measure_runners({"ours": ours_run, "theirs": theirs_run}, warmup=warmup, runs=runs)
    cost, tv_cost = counted_cost(model, model.size), counted_cost(TorchvisionNetwork(tv), 320)
    return Comparison(
        BenchRow(name, cost.params, cost.madds, latency["ours"], weights, config),
        BenchRow(TORCHVISION, tv_cost.params, tv_cost.madds, latency["theirs"], weights, config),
        same,
        detail,
    )


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
) -> BenchReport:
    """Time every configuration (or the checkpoint) on one batch; see the module doc."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device={device} but CUDA is not available here; use device=cpu")
    images = load_images(images_dir, batch_size, seed)
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
        "precision": "fp32",
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__},
    }
    rows: list[BenchRow] = []
    comparison: Comparison | None = None
    notes: list[str] = []
    with threads(num_threads):
        if ckpt is not None:
            from detect.training.checkpoint import load_checkpoint  # pulls in Lightning

            model = load_checkpoint(ckpt).model
            weights = f"trained: {ckpt}"
            config = {"checkpoint": str(ckpt), "size": model.size}
            name = f"checkpoint {Path(ckpt).name} ({model.size})"
            tv, why = torchvision_twin(model, seed) if compare_torchvision else (None, "")
            if tv is not None:
                comparison = _compare(name, model, tv, images, weights, config, settings)
                rows += [comparison.ours, comparison.theirs]
            else:
                rows.append(_measure(name, model, images, weights, config, settings))
                if compare_torchvision:
                    notes.append(f"torchvision comparison skipped: {why}")
        else:
            compared = False
            for backbone in backbones:
                options = backbone_options(backbone, reduced_tail)
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
                            tv = torchvision_ssdlite(seed)
                            model = ssdlite(backbone, width, NUM_CLASSES, size, **options)
                            load_torchvision(model, tv.state_dict())
                            comparison = _compare(
                                name, model, tv, images, UNTRAINED, config, settings
                            )
                            rows += [comparison.ours, comparison.theirs]
                            compared = True
                        else:
                            torch.manual_seed(seed)
                            model = ssdlite(backbone, width, NUM_CLASSES, size, **options)
                            rows.append(_measure(name, model, images, UNTRAINED, config, settings))
            if compare_torchvision and not compared:
                notes.append(
                    "torchvision comparison skipped: it needs the configuration torchvision "
                    "ships (v3_large, width 1.0, reduced_tail=true, size 320), which is not "
                    "among those asked for"
                )
    return BenchReport(rows, comparison, settings, notes)


def _measure(
    name: str,
    model: SSDLite,
    images: list[Tensor],
    weights: str,
    config: dict[str, Any],
    settings: dict[str, Any],
) -> BenchRow:
    runner = detector_runner(model, images, settings["device"])
    latency = measure_runners({name: runner}, warmup=settings["warmup"], runs=settings["runs"])
    cost = counted_cost(model, model.size)
    return BenchRow(name, cost.params, cost.madds, latency[name], weights, config)


def format_report(report: BenchReport) -> str:
    """A markdown table of every row, then the torchvision comparison and the notes."""
    lines = [
        "| model | weights | params (M) | MAdds (G) | pre (ms) | net (ms) | post (ms) | "
        "total (ms) | total p90 | total min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        latency = row.latency
        lines.append(
            f"| {row.model} | {row.weights} | {row.params / 1e6:.3f} | {row.madds / 1e9:.3f} | "
            f"{latency.preprocess.median:.1f} | {latency.network.median:.1f} | "
            f"{latency.postprocess.median:.1f} | {latency.total.median:.1f} | "
            f"{latency.total.p90:.1f} | {latency.total.min:.1f} |"
        )
    lines.append("")
    lines.append("stage times are medians over the timed runs; MAdds of one batch-1 forward")
    comparison = report.comparison
    if comparison is not None:
        ratios = comparison.ratios
        lines.append("")
        lines.append(
            "ours ÷ torchvision, median time on the same weights, interleaved (< 1: ours is "
            "faster): " + ", ".join(f"{stage} {ratios[stage]:.2f}×" for stage in STAGES)
        )
        verdict = "same" if comparison.same_detections else "NOT the same"
        lines.append(f"detections: {verdict} ({comparison.detail})")
        if not comparison.same_detections:
            lines.append(
                "warning: the two did not compute the same detections, so the ratio does not "
                "compare like with like"
            )
        if comparison.ours.weights == UNTRAINED:
            madds = comparison.ours.madds
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
