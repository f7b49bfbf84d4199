"""Inference latency of a detector, split into preprocess / network / postprocess.

Both pipelines start from what an image decoder gives — ``(3, H, W)`` uint8 tensors, already on
the device (moved there once, before timing) — and each stage is timed with ``perf_counter``:

* ours (:func:`measure_detector`): ``preprocess(images, model.size)`` (uint8 → float [0, 1],
  normalise, resize, stack) → ``model(batch.images)`` → ``model.postprocess(outputs,
  batch.original_sizes)`` (decode, per-class top-k, NMS, scale to the original pixels);
* any other :class:`~detect.models.predictor.Detector` (:func:`opaque_runner`), e.g. ONNX
  Runtime's whole-pipeline graph: one call holds every stage, so its time is reported as the
  network stage and its pre- and postprocess stages are NaN (inside the graph).

(The checkout's peer benchmark ``benchmarks/twins.py`` adds torchvision's SSD, cut at the same
places.)

On CUDA the device is synchronised before the first stage and after each one, so a stage's
time is its own work, not queued work of the previous one. Every run is preceded by ``warmup``
untimed runs; ``total`` is each run's sum of its three stages, summarised over runs (so its
median is not the sum of the stages' medians). All work is in eval mode under
``torch.inference_mode()``; :func:`threads` fixes torch's intra-op threads for a block.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from detect.models import SSDLite, preprocess
from detect.models.predictor import Detector

Detections = list[dict[str, Tensor]]
StageTimes = tuple[float, float, float]  # seconds: preprocess, network, postprocess
Runner = Callable[[], tuple[StageTimes, Detections]]  # one timed pass over the batch


@dataclass(frozen=True)
class Stats:
    """Milliseconds over the timed runs: median, 90th percentile (linear interpolation) and min."""

    median: float
    p90: float
    min: float

    @classmethod
    def from_samples(cls, seconds: Sequence[float]) -> Stats:
        """NaN samples (a stage that ran inside another) give NaN statistics."""
        if not seconds:
            raise ValueError("no timed runs: runs must be at least 1")
        median, p90 = np.percentile(1000.0 * np.asarray(seconds), [50, 90])
        return cls(float(median), float(p90), 1000.0 * min(seconds))


@dataclass
class Latency:
    """Per-stage statistics; ``total`` is over each run's sum of the three stages."""

    preprocess: Stats
    network: Stats
    postprocess: Stats
    total: Stats

    @classmethod
    def from_runs(cls, runs: Sequence[StageTimes]) -> Latency:
        if not runs:
            raise ValueError("no timed runs: runs must be at least 1")
        pre, net, post = zip(*runs, strict=True)
        return cls(
            Stats.from_samples(pre),
            Stats.from_samples(net),
            Stats.from_samples(post),
            Stats.from_samples([math.fsum(t for t in run if not math.isnan(t)) for run in runs]),
        )

    def to_dict(self) -> dict[str, dict[str, float]]:
        return asdict(self)


@contextlib.contextmanager
def threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` intra-op threads (``None``: leave as is), then restore."""
    previous = torch.get_num_threads()
    if count is not None:
        if count < 1:
            raise ValueError(f"threads must be at least 1, got {count}")
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


PEAK_SIZE = 2048  # the square matrix product that comes closest to the FMA limit


def matmul_runner(size: int = PEAK_SIZE) -> Runner:
    """One timed ``size``×``size`` float32 matrix product (2·n³ FLOPs), the kernel closest to the
    FMA limit; interleaved with pipelines by :func:`measure_runners`, the peak it gives
    (:func:`matmul_gflops`) has met the load they met."""
    a, b = torch.randn(size, size), torch.randn(size, size)

    def run() -> tuple[StageTimes, Detections]:
        start = time.perf_counter()
        a @ b
        return (math.nan, time.perf_counter() - start, math.nan), []

    return run


def peak_gflops(size: int = PEAK_SIZE, repeats: int = 10) -> float:
    """This CPU's attainable float32 peak with the current threads, timed on its own: the best of
    ``repeats`` matrix products (:func:`matmul_runner`) after two untimed ones."""
    run = matmul_runner(size)
    for _ in range(2):
        run()
    best = min(run()[0][1] for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def matmul_gflops(latency: Latency, size: int = PEAK_SIZE) -> float:
    """GFLOP/s of the median matrix product timed by a :func:`matmul_runner`."""
    return 2 * size**3 / (latency.network.median / 1000) / 1e9


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def on_device(images: Sequence[Tensor], device: torch.device) -> list[Tensor]:
    if not images:
        raise ValueError("no images to time")
    return [image.to(device) for image in images]


def detector_runner(model: SSDLite, images: Sequence[Tensor], device: str = "cpu") -> Runner:
    """One timed pass of our detector over ``images`` (uint8 (3, H, W); see the module doc).

    The model is moved to ``device`` and put in eval mode; the images are copied there now.
    """
    dev = torch.device(device)
    model.to(dev).eval()
    batch_images = on_device(images, dev)

    def run() -> tuple[StageTimes, Detections]:
        with torch.inference_mode():
            sync(dev)
            start = time.perf_counter()
            batch = preprocess(batch_images, model.size)
            sync(dev)
            preprocessed = time.perf_counter()
            outputs = model(batch.images)
            sync(dev)
            networked = time.perf_counter()
            detections = model.postprocess(outputs, batch.original_sizes)
            sync(dev)
            end = time.perf_counter()
        return (preprocessed - start, networked - preprocessed, end - networked), detections

    return run


def opaque_runner(detector: Detector, images: Sequence[Tensor]) -> Runner:
    """One timed call of any detector over uint8 ``images`` (CPU), all of it one stage."""
    batch_images = on_device(images, torch.device("cpu"))

    def run() -> tuple[StageTimes, Detections]:
        start = time.perf_counter()
        detections = detector(batch_images)
        return (math.nan, time.perf_counter() - start, math.nan), detections

    return run


def measure_runners(
    runners: Mapping[str, Runner], *, warmup: int = 10, runs: int = 50
) -> dict[str, Latency]:
    """Time several pipelines interleaved: in every round each runs once, the order reversed on
    odd rounds, so a burst of other load on a shared machine falls on all of them alike.

    With more than one, each timed run follows an untimed one of the same pipeline: a PyTorch
    pipeline's threads go on spinning after it returns (ONNX Runtime's whole graph here took
    16.3 ms right after torchvision's, 11.3 ms 20 ms later, 10.7 ms right after itself), and a
    pipeline should be timed as it runs alone, not in its predecessor's wake."""
    if warmup < 0 or runs < 1:
        raise ValueError(f"warmup must be ≥ 0 and runs ≥ 1, got warmup={warmup}, runs={runs}")
    names = list(runners)
    samples: dict[str, list[StageTimes]] = {name: [] for name in names}
    for index in range(warmup + runs):
        order = names if index % 2 == 0 else names[::-1]
        for name in order:
            if len(names) > 1:
                runners[name]()  # the switch-over run
            times, _ = runners[name]()
            if index >= warmup:
                samples[name].append(times)
    return {name: Latency.from_runs(samples[name]) for name in names}


def measure_detector(
    model: SSDLite,
    images: list[Tensor],
    *,
    warmup: int = 10,
    runs: int = 50,
    device: str = "cpu",
) -> Latency:
    """Our detector's latency on the batch ``images`` (uint8 (3, H, W), any sizes)."""
    return measure_runners(
        {"ours": detector_runner(model, images, device)}, warmup=warmup, runs=runs
    )["ours"]
