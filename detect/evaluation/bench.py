"""``detect bench``: inference latency per backend, params and MAdds of SSDLite configurations or
of a checkpoint, and how far the fastest pipeline is from the FLOP floor.

Every configuration (backbone × width × input size, 91 COCO classes as torchvision's head) is
built from ``seed`` with untrained weights; a checkpoint brings its trained ones. Params and
MAdds come from :func:`detect.evaluation.cost.counted_cost` (FLOPs / 2 of one batch-1 forward of
the network: backbone, extras and head; not pre- or postprocessing). Latency comes from
:mod:`detect.evaluation.latency` on real images: the first ``batch_size`` JPEGs (sorted by name)
of ``images_dir``, decoded once to uint8 before timing; ``images_dir=None`` uses seeded random
480×640 images instead (a missing folder is an error, not a silent fallback). The backends are
those of :mod:`detect.evaluation.backend_runners`, timed interleaved; ``backends=[all]`` is the
deployment matrix: every registered backend (one whose extra is not installed is skipped with a
note naming it), each row with its file size and its parity with PyTorch on the bench images
(:mod:`detect.evaluation.parity`).

Postprocessing time depends on how many candidates pass the score threshold (0.001 as
torchvision): an untrained network's logits are constant, so every score is 1/91 and 300 per
class (~27,000 per image) go to NMS. The table says which weights were timed.

The FLOP floor is the network's FLOPs at this CPU's float32 peak, the median of 2048² matrix
products timed in the same loop between the pipelines' runs (one more runner): a peak measured
only before them, best of ten (kept in the settings too), would meet none of the load they met,
and the floor ratio would swing with it.

torchvision's SSDLite timed beside ours on the same weights is a peer benchmark, not part of the
package: ``python tools/bench.py`` in a checkout (``benchmarks/``) adds it to this one.
"""

from __future__ import annotations

import contextlib
import json
import platform
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import onnxruntime
import torch
import torchvision
from torch import Tensor

from detect.data.categories import CategoryMap
from detect.errors import ConfigError, DetectError
from detect.evaluation.backend_runners import (
    BACKEND_NAMES,
    Backends,
    backend_runners,
    bench_images,
)
from detect.evaluation.cost import counted_cost
from detect.evaluation.latency import (
    Latency,
    Runner,
    matmul_gflops,
    matmul_runner,
    measure_runners,
    peak_gflops,
    threads,
)
from detect.evaluation.parity import parity_status
from detect.io import atomic_write
from detect.models import SSDLite, ssdlite
from detect.models.backbones import backbone_options
from detect.models.predictor import Predictor
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint

NUM_CLASSES = 91  # COCO's 90 category ids + background, as torchvision's detection heads
STAGES = ("preprocess", "network", "postprocess", "total")
UNTRAINED = "untrained (seeded random init)"
MATRIX_PRODUCT = "matrix product"  # the floor's peak, one more runner between the pipelines


@dataclass
class BenchRow:
    """One timed model: its name, what it is, its cost, its latency and the float32 peak timed
    between its runs (GFLOP/s; CPU only)."""

    name: str
    params: int
    madds: int
    latency: Latency
    weights: str
    config: dict[str, Any]
    peak_gflops: float | None = None
    file_bytes: int | None = None  # the exported file's size (None: PyTorch, no file)
    parity: str = ""  # paired with PyTorch's detections on the bench images (parity_status)

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
            "peak_gflops": self.peak_gflops,
            "file_bytes": self.file_bytes,
            "parity": self.parity,
        }


@dataclass
class BenchReport:
    rows: list[BenchRow]
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "rows": [row.to_dict() for row in self.rows],
            "notes": self.notes,
        }

    def to_json(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(self.to_dict(), indent=2) + "\n")


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


@dataclass(frozen=True)
class Subject:
    """One model to time, and what its rows say it is."""

    name: str
    model: SSDLite
    weights: str
    config: dict[str, Any]
    categories: CategoryMap | None = None  # a checkpoint's; None: placeholders 1..K
    model_config: dict[str, Any] = field(default_factory=dict)  # stored in the exports


@dataclass(frozen=True)
class Configuration:
    """One untrained SSDLite to time: a backbone at a width and an input size, with its options."""

    backbone: str
    width: float
    size: int
    options: dict[str, Any]

    @property
    def name(self) -> str:
        tail = " reduced tail" if self.options.get("reduced_tail") else ""
        return f"ssdlite {self.backbone} ×{self.width:g} {self.size}{tail}"

    @property
    def config(self) -> dict[str, Any]:
        return {
            "backbone": self.backbone,
            "width_mult": float(self.width),
            "size": int(self.size),
            **self.options,
        }

    def subject(self, seed: int) -> Subject:
        """The model with initial weights drawn from ``seed``."""
        torch.manual_seed(seed)
        model = ssdlite(self.backbone, self.width, NUM_CLASSES, self.size, **self.options)
        stored = {
            "size": int(self.size),
            "backbone": {"name": self.backbone, "width_mult": float(self.width), **self.options},
        }
        return Subject(self.name, model, UNTRAINED, self.config, model_config=stored)


def configurations(
    backbones: Sequence[str], widths: Sequence[float], sizes: Sequence[int], reduced_tail: bool
) -> list[Configuration]:
    """Every backbone × width × size, in that order."""
    return [
        Configuration(backbone, width, size, with_reduced_tail(backbone, reduced_tail))
        for backbone in backbones
        for width in widths
        for size in sizes
    ]


def checkpoint_subject(path: str | Path, hub: HubConfig | None = None) -> Subject:
    """A checkpoint's trained model and categories."""
    checkpoint = open_checkpoint(path, hub)
    return Subject(
        f"checkpoint {Path(path).name} ({checkpoint.model.size})",
        checkpoint.model,
        f"trained: {path}",
        {"checkpoint": str(path), "size": checkpoint.model.size},
        checkpoint.categories,
        checkpoint.model_config,
    )


@dataclass
class BenchRun:
    """What every model timed in one run shares: the images, the settings and the backends."""

    images: list[Tensor]
    settings: dict[str, Any]
    backends: Backends
    matrix: bool = False  # backends=[all]: a backend whose extra is missing is skipped, noted
    sizes: dict[str, int] = field(default_factory=dict)  # row → exported file bytes
    notes: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        *,
        device: str,
        num_threads: int,
        batch_size: int,
        warmup: int,
        runs: int,
        images_dir: str | Path | None,
        seed: int,
        backends: Backends,
    ) -> BenchRun:
        """Check the device, read the images and record the settings of the run."""
        matrix = list(backends.names) == list(BACKEND_NAMES)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device={device} but CUDA is not available here; use device=cpu")
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
        return cls(images, settings, backends, matrix)

    @property
    def device(self) -> str:
        return self.settings["device"]

    @contextlib.contextmanager
    def threads(self) -> Iterator[None]:
        """The run's intra-op threads for the block; on the CPU the peak timed alone first."""
        with threads(self.settings["threads"]):
            if self.device == "cpu":
                self.settings["peak_gflops"] = peak_gflops()
            yield

    def runners(self, subject: Subject) -> dict[str, Runner]:
        """Every backend's runner; the matrix builds them family by family (the runners of one
        family share its conversion) and skips, with a note, a family whose extra is missing."""
        if not self.matrix:
            return backend_runners(
                subject.name,
                subject.model,
                self.images,
                self.backends,
                self.device,
                subject.categories,
                self.sizes,
                subject.model_config,
            )
        runners: dict[str, Runner] = {}
        for names in families(self.backends.names):
            backends = replace(self.backends, names=names)
            try:
                runners |= backend_runners(
                    subject.name,
                    subject.model,
                    self.images,
                    backends,
                    self.device,
                    subject.categories,
                    self.sizes,
                    subject.model_config,
                )
            except (DetectError, ImportError) as error:  # an extra, a browser, the network
                self.notes.append(f"skipped {', '.join(names)}: {error}")
        return runners

    def parity(self, subject: Subject, runners: dict[str, Runner]) -> dict[str, str]:
        """Each runner's detections (one untimed call) paired with PyTorch's on the images."""
        reference = Predictor(subject.model, self.device)(self.images)
        return {
            row: parity_status(row, runner()[1], reference)[1] for row, runner in runners.items()
        }

    def time(self, runners: dict[str, Runner]) -> tuple[dict[str, Latency], float | None]:
        """Every runner's latency, interleaved, and (on the CPU) the float32 peak of the matrix
        products timed between them (GFLOP/s, median)."""
        timed = dict(runners)
        cpu = self.device == "cpu"
        if cpu:
            timed[MATRIX_PRODUCT] = matmul_runner()
        latency = measure_runners(timed, warmup=self.settings["warmup"], runs=self.settings["runs"])
        return latency, matmul_gflops(latency.pop(MATRIX_PRODUCT)) if cpu else None

    def measure(self, subject: Subject) -> list[BenchRow]:
        """A row per backend of ``subject``, timed interleaved."""
        runners = self.runners(subject)
        parity = self.parity(subject, runners)
        return subject_rows(subject, runners, *self.time(runners), self.sizes, parity)


def subject_rows(
    subject: Subject,
    names: Iterable[str],
    latency: dict[str, Latency],
    peak: float | None,
    sizes: dict[str, int] | None = None,
    parity: dict[str, str] | None = None,
) -> list[BenchRow]:
    """A row per runner of ``subject`` (``names``), with its cost and latency, and (when given)
    its file size and parity status."""
    cost = counted_cost(subject.model, subject.model.size)
    sizes, parity = sizes or {}, parity or {}
    return [
        BenchRow(
            name,
            cost.params,
            cost.madds,
            latency[name],
            subject.weights,
            subject.config,
            peak,
            sizes.get(name),
            parity.get(name, ""),
        )
        for name in names
    ]


def families(names: Sequence[str]) -> list[list[str]]:
    """``names`` grouped by runtime (``litert_fp16`` with ``litert``, in first-seen order);
    ``onnxruntime_web`` is its own (it needs a browser, not only onnxruntime)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        key = "web" if name == "onnxruntime_web" else name.split("_")[0]
        groups.setdefault(key, []).append(name)
    return list(groups.values())


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
    images_dir: str | Path | None = None,
    seed: int = 0,
    backends: Backends | None = None,
    hub: HubConfig | None = None,
    score_thresh: float | None = None,
) -> BenchReport:
    """Time every configuration (or the checkpoint) on one batch; see the module doc.
    ``score_thresh``: every model's postprocess threshold, for all its backends (the whole
    graph, the decoders, MediaPipe's op, PyTorch's own); None: the model's (eval's 0.001)."""
    if score_thresh is not None and not 0 <= score_thresh < 1:
        raise ConfigError(f"score_thresh={score_thresh}: a score threshold is in [0, 1)")
    run = BenchRun.start(
        device=device,
        num_threads=num_threads,
        batch_size=batch_size,
        warmup=warmup,
        runs=runs,
        images_dir=images_dir,
        seed=seed,
        backends=backends or Backends(),
    )
    rows: list[BenchRow] = []
    subjects = (  # made one at a time, as each is timed
        iter([checkpoint_subject(ckpt, hub)])
        if ckpt is not None
        else (c.subject(seed) for c in configurations(backbones, widths, sizes, reduced_tail))
    )
    with run.threads():
        for subject in subjects:
            model = subject.model
            if score_thresh is not None:
                model.postprocess_config = replace(
                    model.postprocess_config, score_thresh=float(score_thresh)
                )
            run.settings["score_thresh"] = model.postprocess_config.score_thresh
            rows += run.measure(subject)
    return BenchReport(rows, run.settings, run.notes)
