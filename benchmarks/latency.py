"""tools/bench.py: ``detect bench`` (:mod:`detect.evaluation.bench`) with torchvision's
``ssdlite320_mobilenet_v3_large`` timed beside ours on the same weights.

The torchvision comparison builds its model seeded (``weights=None``), loads that state dict
into ours (``load_torchvision``) and times every backend and torchvision in one interleaved loop
(with the floor's matrix product between them); the ratio is ours ÷ torchvision's median time
per stage (< 1: ours is faster). Every fp32 backend must give torchvision's detections on the
first image (within float tolerance), which checks that the same network ran. A checkpoint is
compared through its twin: torchvision's SSDLite320 holding its weights, when its architecture
is torchvision's.

An untrained network's logits are constant, and torchvision's per-class Python loop is at its
slowest on the ~27,000 candidates per image they send to NMS. ``weights=trained_like`` gives
torchvision's configuration a trained score distribution instead: its seeded model trained
briefly on real COCO images (:mod:`.trained_like`, cached). The table says which weights were
timed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from omegaconf import DictConfig
from torch import Tensor, nn

from benchmarks.compare import Comparison
from benchmarks.latency_report import LatencyComparison, format_report
from benchmarks.trained_like import TRAINED_LIKE, TrainedLike, trained_like_state_dict
from benchmarks.twins import (
    TORCHVISION,
    TORCHVISION_SIZE,
    TorchvisionNetwork,
    in_torchvision_labels,
    torchvision_runner,
    torchvision_ssdlite,
    torchvision_twin,
)
from detect.cli.bench import bench_arguments, print_report
from detect.errors import ConfigError
from detect.evaluation.backend_runners import Backends
from detect.evaluation.bench import (
    BenchRow,
    BenchRun,
    Configuration,
    Subject,
    checkpoint_subject,
    configurations,
    subject_rows,
)
from detect.evaluation.cost import counted_cost
from detect.export.onnx import match_detections, to_numpy
from detect.models import load_torchvision
from detect.weights.hub import HubConfig


def is_torchvision_config(configuration: Configuration) -> bool:
    """Whether the configuration is torchvision's ``ssdlite320_mobilenet_v3_large``."""
    c = configuration
    return (c.backbone, float(c.width), c.size, c.options.get("reduced_tail")) == (
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


def compare(run: BenchRun, subject: Subject, tv: nn.Module) -> Comparison[BenchRow]:
    """Ours against torchvision, interleaved (with the floor's matrix products on the CPU)."""
    ours_runners = run.runners(subject)
    parity = run.parity(subject, ours_runners)  # with PyTorch: the matrix's column
    theirs_run = torchvision_runner(tv, run.images, run.device)
    reference = theirs_run()[1]
    checks = []
    for row_name, runner in ours_runners.items():
        if row_name.endswith(("_int8]", "_fp16]")):
            checks.append((True, "quantised: not expected to give the same detections"))
        elif row_name.endswith("network only]"):
            checks.append((True, "the network alone: no detections to compare"))
        else:
            detections = in_torchvision_labels(subject.model, runner()[1])
            checks.append(compare_detections(detections, reference))
    latency, peak = run.time({**ours_runners, TORCHVISION: theirs_run})
    cost = counted_cost(TorchvisionNetwork(tv), TORCHVISION_SIZE)
    theirs = BenchRow(
        TORCHVISION,
        cost.params,
        cost.madds,
        latency[TORCHVISION],
        subject.weights,
        subject.config,
        peak,
    )
    ours = subject_rows(subject, ours_runners, latency, peak, run.sizes, parity)
    return Comparison(theirs, ours, checks)


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
    score_thresh: float | None = None,
) -> LatencyComparison:
    """:func:`detect.evaluation.bench.bench`, with torchvision beside torchvision's configuration
    (or the checkpoint's twin) when ``compare_torchvision``; see the module doc. Both sides run
    at their models' own threshold (torchvision's 0.001): ``score_thresh`` is refused."""
    if score_thresh is not None:
        raise ConfigError(
            f"score_thresh={score_thresh}: the peer comparison runs ours and torchvision's at "
            "the models' own threshold; detect bench score_thresh=… times ours alone"
        )
    if weights not in ("untrained", TRAINED_LIKE):
        raise ConfigError(f"weights must be untrained or {TRAINED_LIKE}, got {weights!r}")
    if weights == TRAINED_LIKE and trained_like is None:
        raise ConfigError("weights=trained_like needs trained_like (its images and cache)")
    backends = backends or Backends()
    run = BenchRun.start(
        device=device,
        num_threads=num_threads,
        batch_size=batch_size,
        warmup=warmup,
        runs=runs,
        images_dir=images_dir,
        seed=seed,
        backends=backends,
    )
    rows: list[BenchRow] = []
    comparison: Comparison[BenchRow] | None = None
    notes: list[str] = []
    with run.threads():
        if ckpt is not None:
            subject = checkpoint_subject(ckpt, hub)
            tv, why = torchvision_twin(subject.model, seed) if compare_torchvision else (None, "")
            if tv is not None:
                comparison = compare(run, subject, tv)
                rows += [*comparison.ours, comparison.theirs]
            else:
                rows += run.measure(subject)
                if compare_torchvision:
                    notes.append(f"torchvision comparison skipped: {why}")
        else:
            compared = False
            for configuration in configurations(backbones, widths, sizes, reduced_tail):
                subject = configuration.subject(seed)
                if compare_torchvision and is_torchvision_config(configuration):
                    tv = torchvision_weights(weights, seed, trained_like)
                    load_torchvision(subject.model, tv.state_dict())
                    if weights == TRAINED_LIKE:
                        subject = replace(subject, weights=trained_like.label(seed))
                    comparison = compare(run, subject, tv)
                    rows += [*comparison.ours, comparison.theirs]
                    compared = True
                else:
                    rows += run.measure(subject)
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
    if comparison is not None:
        run.settings["peak_gflops_interleaved"] = comparison.theirs.peak_gflops
    return LatencyComparison(rows, run.settings, notes + run.notes, comparison)


def run_bench(cfg: DictConfig) -> LatencyComparison:
    """tools/bench.py: time, print the table, write the json."""
    report = bench(
        **bench_arguments(cfg),
        compare_torchvision=cfg.compare_torchvision,
        weights=cfg.weights,
        trained_like=TrainedLike(**cfg.trained_like),
    )
    print_report(report, cfg, format_report(report))
    return report
