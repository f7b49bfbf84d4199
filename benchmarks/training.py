"""tools/bench_train.py: our Lightning training loop vs a bare PyTorch loop over torchvision's
SSDLite, in images per second.

Both train the same network from the same weights on the same batches with the same optimiser:
torchvision's ``ssdlite320_mobilenet_v3_large`` (seeded, 91 classes) and ours built from
``model_config`` with that state dict loaded, SGD over the same parameter groups at a constant
rate, fp32, on the CPU with ``threads`` intra-op threads. The batches are synthetic (random
uint8 images with a few valid boxes each), made once and held in memory, so no data loading is
timed (:mod:`.loading` measures that). Each side sees its input as it would in
training: ours a ``(uint8 images, targets)`` batch through ``Trainer.fit`` (a real Trainer, our
``DetectionModule`` with its scheduler, loss checks and logging), torchvision's the same images
as float [0, 1] (converted inside the timed step) with ``{"boxes", "labels"}`` targets.

A step's time is the period from the end of one step to the end of the next, so every cost of
each loop between steps (Lightning's batch transfer, hooks, scheduler, logging) is counted.
After ``warmup`` untimed steps, ``steps`` steps are timed; ``repeats`` rounds of each loop
alternate (ours first in even rounds, torchvision's first in odd ones), each from fresh copies
of the same weights. Each side's images/s is the batch size over its median step period, pooled
over its rounds: on a shared machine another process's burst slows a few steps, not the median
(the whole-round rates are reported beside it). The first step's loss of both is kept: the
same model on the same batch gives the same loss, which checks the setup.

Ours runs with the ``speed`` options given (:class:`SpeedConfig`: the same maths, faster), and
with ``compare_plain`` a second time with all of them off — the step before they existed —
alternating with the others. Our steps are cut into phases (:mod:`.phases`: data, preprocess,
forward, loss, backward, optimizer, EMA, …); ours train with the EMA callback, as a real run.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torchvision
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch.utils.data import DataLoader

from benchmarks.compare import Comparison, Throughput, throughput_table
from benchmarks.phases import PHASES, PhaseTimer, median_phases
from benchmarks.twins import NUM_CLASSES, torchvision_ssdlite
from detect.data.categories import CategoryMap
from detect.errors import ConfigError
from detect.models import load_torchvision
from detect.training.ema import EMA
from detect.training.module import DetectionModule
from detect.training.optim import ScheduleConfig, parameter_groups
from detect.training.speed import SpeedConfig

OURS = "detect: Lightning DetectionModule"
OURS_PLAIN = "detect: Lightning DetectionModule, plain step"
THEIRS = "torchvision: bare PyTorch loop"
LOSS_TOLERANCE = 1e-4  # relative difference of the first step's losses still called equal
# … under float16 autocast: its rounding (4.9e-4 per op) over a network's depth, in kernels
# that differ between the two loops' memory formats, cannot be held to float32's
AMP_LOSS_TOLERANCE = 1e-2
NOISY_STEP = 2.0  # a step this many times slower than the median one means a busy machine

Batch = tuple[list[Tensor], list[dict[str, Any]]]


def same_loss(row: Throughput, reference: Throughput, tolerance: float = LOSS_TOLERANCE) -> bool:
    scale = max(abs(reference.first_loss), 1e-12)
    return abs(row.first_loss - reference.first_loss) <= tolerance * scale


@dataclass
class TrainingComparison:
    """Ours and torchvision's loops, measured in one process, and the settings."""

    comparison: Comparison[Throughput]
    settings: dict[str, Any]
    phases: dict[str, dict[str, float]]  # our row's name → median seconds per phase

    @property
    def ours(self) -> Throughput:
        return self.comparison.ours[0]

    @property
    def theirs(self) -> Throughput:
        return self.comparison.theirs

    @property
    def ratio(self) -> float:
        """Ours ÷ theirs images per second (> 1: ours is faster)."""
        return self.comparison.speedup(self.ours)

    @property
    def same_loss(self) -> bool:
        """Every row of ours started from the loss torchvision's did."""
        return self.comparison.agree

    @property
    def noisy(self) -> bool:
        rows = (*self.comparison.ours, self.theirs)
        return any(row.slowest_step_ratio > NOISY_STEP for row in rows)

    def to_json(self, path: Path) -> None:
        report = {
            "settings": self.settings,
            "rows": [row.to_dict() for row in (*self.comparison.ours, self.theirs)],
            "phases": self.phases,
            "ratio": self.ratio,
            "same_first_loss": self.same_loss,
            "noisy": self.noisy,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")


def synthetic_batches(
    count: int, batch_size: int, size: int, boxes_per_image: int, seed: int = 0
) -> list[Batch]:
    """``count`` batches as our ``collate`` makes them: random (3, size, size) uint8 images, each
    with ``boxes_per_image`` xyxy pixel boxes inside it (sides 10–60 % of the image's, cut at
    its edge: torchvision does not clip targets, ours does) and labels in 1..90."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for index in range(count):
        images, targets = [], []
        for item in range(batch_size):
            images.append(
                torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=generator)
            )
            corner = torch.rand(boxes_per_image, 2, generator=generator) * 0.7 * size
            extent = (torch.rand(boxes_per_image, 2, generator=generator) * 0.5 + 0.1) * size
            labels = torch.randint(1, NUM_CLASSES, (boxes_per_image,), generator=generator)
            targets.append(
                {
                    "boxes": torch.cat([corner, (corner + extent).clamp(max=size)], dim=1),
                    "labels": labels,
                    "image_id": index * batch_size + item,
                }
            )
        batches.append((images, targets))
    return batches


def sgd(lr: float, momentum: float, weight_decay: float) -> functools.partial:
    return functools.partial(torch.optim.SGD, lr=lr, momentum=momentum, weight_decay=weight_decay)


def periods(ends: list[float], warmup: int) -> tuple[float, ...]:
    """Seconds from the end of each step to the end of the next, for the steps after warmup."""
    return tuple(ends[i] - ends[i - 1] for i in range(warmup, len(ends)))


def synchronize(device: str) -> None:
    """Wait for the GPU's queued work, so that a step's end is its real end."""
    if device == "cuda":
        torch.cuda.synchronize()


def _unchanged(batch: Batch) -> Batch:
    return batch


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Lightning's per-Trainer info lines (GPU available …, tips, max_steps reached) and warnings
    that do not apply here (a loader without workers: data loading is not timed; no validation)
    would interleave with the results."""
    loggers = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for message in ("does not have many workers", "no `val_dataloader`", "LeafSpec"):
                warnings.filterwarnings("ignore", message=f".*{message}.*")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


Round = tuple[tuple[float, ...], float, int, list[dict[str, float]]]


def run_ours(
    model_config: Mapping[str, Any],
    state: Mapping[str, Tensor],
    batches: list[Batch],
    warmup: int,
    optimizer: functools.partial,
    speed: SpeedConfig,
    device: str = "cpu",
    amp: bool = False,
) -> Round:
    """Periods of the steps after ``warmup``, the first step's loss, threads and the phases of
    those steps: ``Trainer.fit`` with the EMA callback (``amp``: Lightning's ``16-mixed``)."""
    categories = CategoryMap(
        tuple(range(1, NUM_CLASSES)), tuple(f"class{i}" for i in range(1, NUM_CLASSES))
    )
    module = DetectionModule(
        model_config,
        categories,
        optimizer,
        schedule=ScheduleConfig(warmup_epochs=0, min_lr_ratio=1.0),  # constant lr, as theirs
        speed=speed,
    )
    load_torchvision(module.model, state)
    ema = EMA(decay=0.99, warmup_updates=100)
    timer = PhaseTimer(ema)
    loader = DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_unchanged)
    with quiet_lightning():
        trainer = L.Trainer(
            accelerator="gpu" if device == "cuda" else "cpu",
            devices=1,
            precision="16-mixed" if amp else "32-true",
            max_epochs=1,
            max_steps=len(batches),
            callbacks=[ema, timer],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
        )
        trainer.fit(module, train_dataloaders=loader)
    if len(timer.steps) != len(batches):
        raise RuntimeError(f"Lightning ran {len(timer.steps)} of {len(batches)} steps")
    timed = timer.steps[warmup:]
    return tuple(step["total"] for step in timed), timer.first_loss, timer.threads, timed


def run_theirs(
    size: int,
    state: Mapping[str, Tensor],
    batches: list[Batch],
    warmup: int,
    optimizer: functools.partial,
    seed: int,
    device: str = "cpu",
    amp: bool = False,
) -> Round:
    """The same for the bare loop: ``sum(model(images, targets).values())``, backward, step;
    ``amp``: under ``torch.autocast`` (float16) with a ``GradScaler``, as Lightning's
    ``16-mixed``. Batches are moved to ``device`` inside the step, as Lightning moves ours."""
    model = torchvision_ssdlite(seed, size=size)
    model.load_state_dict(state)
    model.to(device).train()
    opt = optimizer(parameter_groups(model))
    scaler = torch.amp.GradScaler(device, enabled=amp)
    ends, first_loss, threads = [], math.nan, 0
    for images, targets in batches:
        inputs = [image.to(device).float() / 255.0 for image in images]
        boxes = [
            {"boxes": target["boxes"].to(device), "labels": target["labels"].to(device)}
            for target in targets
        ]
        with torch.autocast(device, dtype=torch.float16, enabled=amp):
            loss = sum(model(inputs, boxes).values())
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        synchronize(device)
        ends.append(time.perf_counter())
        if len(ends) == 1:
            first_loss, threads = float(loss.detach()), torch.get_num_threads()
    return periods(ends, warmup), first_loss, threads, []


def compare_training(
    model_config: Mapping[str, Any],
    batch_size: int = 8,
    threads: int = 2,
    warmup: int = 3,
    steps: int = 20,
    repeats: int = 2,
    boxes_per_image: int = 7,
    lr: float = 0.01,
    momentum: float = 0.9,
    weight_decay: float = 4e-5,
    seed: int = 0,
    speed: SpeedConfig = SpeedConfig(),  # noqa: B008 - frozen dataclass
    compare_plain: bool = False,
    device: str = "cpu",
    amp: bool = False,
) -> TrainingComparison:
    """Train the loops ``repeats`` times, alternating, on ``warmup + steps`` identical batches:
    ours with ``speed``, torchvision's, and with ``compare_plain`` ours with every speed
    option off; on ``device`` (cpu or cuda), in float32 or with ``amp`` (float16 autocast).
    On CUDA the phases are not kept (a phase mark is the host's time, not the GPU's).

    ``model_config`` is the ``model`` node of ``conf/train.yaml``; it must describe torchvision's
    model (v3_large, width 1.0, reduced tail, the ssdlite head) for the weights to load.
    """
    if warmup < 1 or steps < 1 or repeats < 1 or batch_size < 1:
        raise ConfigError(
            f"warmup, steps, repeats and batch_size must be at least 1, got {warmup}, {steps}, "
            f"{repeats}, {batch_size} (the first step is never timed)"
        )
    if device not in ("cpu", "cuda") or (device == "cuda" and not torch.cuda.is_available()):
        raise ConfigError(f"device={device}: use cpu, or cuda on a machine with a CUDA GPU")
    size = int(model_config["size"])
    batches = synthetic_batches(warmup + steps, batch_size, size, boxes_per_image, seed)
    state = {k: v.clone() for k, v in torchvision_ssdlite(seed, size=size).state_dict().items()}
    optimizer = sgd(lr, momentum, weight_decay)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    ours = {OURS: speed, **({OURS_PLAIN: SpeedConfig()} if compare_plain else {})}
    loops = [*ours, THEIRS]
    rounds: dict[str, list[Round]] = {loop: [] for loop in loops}
    try:
        for index in range(repeats):
            shift = index % len(loops)  # each loop goes first in turn
            for loop in loops[shift:] + loops[:shift]:
                if loop == THEIRS:
                    run = run_theirs(size, state, batches, warmup, optimizer, seed, device, amp)
                else:
                    run = run_ours(
                        model_config, state, batches, warmup, optimizer, ours[loop], device, amp
                    )
                rounds[loop].append(run)
    finally:
        torch.set_num_threads(previous_threads)

    def throughput(loop: str) -> Throughput:
        timed, first_loss, seen_threads, _ = zip(*rounds[loop], strict=True)
        return Throughput(loop, batch_size, timed, first_loss[0], seen_threads[0])

    settings = {
        "batch_size": batch_size,
        "size": size,
        "threads": threads,
        "warmup": warmup,
        "steps": steps,
        "repeats": repeats,
        "boxes_per_image": boxes_per_image,
        "optimizer": {"name": "SGD", "lr": lr, "momentum": momentum, "weight_decay": weight_decay},
        "speed": {loop: asdict(config) for loop, config in ours.items()},
        "precision": "amp fp16" if amp else "fp32",
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "seed": seed,
        "model": dict(model_config),
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "lightning": L.__version__,
        },
    }
    theirs = throughput(THEIRS)
    phases = {
        loop: median_phases([step for run in rounds[loop] for step in run[3]])
        for loop in ours
        if device == "cpu"
    }
    comparison = Comparison(theirs, [throughput(loop) for loop in ours])
    result = TrainingComparison(comparison, settings, phases)
    for row in result.comparison.ours:
        detail = f"first-step loss {row.first_loss:.6g} vs {theirs.first_loss:.6g}"
        tolerance = AMP_LOSS_TOLERANCE if amp else LOSS_TOLERANCE
        result.comparison.checks.append((same_loss(row, theirs, tolerance), detail))
    return result


def phase_table(phases: Mapping[str, Mapping[str, float]]) -> str:
    """Our rows' median milliseconds per phase side by side (a phase's median over the steps:
    the phases need not add up to the median step)."""
    loops = list(phases)
    names = [p for p in (*PHASES, "total") if any(p in row for row in phases.values())]
    lines = [
        "| phase | " + " | ".join(f"{loop} (ms)" for loop in loops) + " |",
        "|---|" + "---|" * len(loops),
    ]
    for name in names:
        cells = " | ".join(f"{phases[loop].get(name, 0.0) * 1000:.1f}" for loop in loops)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines)


def format_comparison(comparison: TrainingComparison, min_ratio: float = 0.9) -> str:
    """The throughput table (our rows, torchvision's), the ratio against ``min_ratio``, then
    where our steps' time went."""
    lines = [throughput_table(comparison.comparison), ""]
    verdict = "met" if comparison.ratio >= min_ratio else "NOT met"
    lines.append(
        f"ours ÷ torchvision: {comparison.ratio:.2f}× (> 1: ours is faster; "
        f"required ≥ {min_ratio:.2f}×: {verdict})"
    )
    plain = [row for row in comparison.comparison.ours if row.name == OURS_PLAIN]
    if plain:
        gain = comparison.ours.images_per_second / plain[0].images_per_second
        lines.append(f"ours ÷ our plain step: {gain:.2f}× (what the speed options gave)")
    if comparison.noisy:
        rows = (*comparison.comparison.ours, comparison.theirs)
        slowest = ", ".join(f"{row.name} {row.slowest_step_ratio:.1f}×" for row in rows)
        lines.append(
            f"warning: some steps took over {NOISY_STEP:g}× the median step (slowest: "
            f"{slowest}): other processes shared the cores; the median absorbs a few such "
            "steps, but rerun on an idle machine for a clean number"
        )
    if not comparison.same_loss:
        lines.append(
            "warning: the first step's losses differ, so the loops do not train the same "
            "model on the same data: check that model describes torchvision's SSDLite"
        )
    if comparison.phases:
        lines += ["", "where our step's time goes (median per phase):", ""]
        lines.append(phase_table(comparison.phases))
    return "\n".join(lines)


def run_bench_train(cfg: DictConfig) -> TrainingComparison:
    """tools/bench_train.py: both loops, the table, the json."""
    comparison = compare_training(
        OmegaConf.to_container(cfg.model, resolve=True),
        batch_size=cfg.batch_size,
        threads=cfg.threads,
        warmup=cfg.warmup,
        steps=cfg.steps,
        repeats=cfg.repeats,
        boxes_per_image=cfg.boxes_per_image,
        seed=cfg.seed,
        speed=SpeedConfig(**cfg.speed),
        compare_plain=cfg.compare_plain,
        **cfg.optimizer,
    )
    print(
        f"batch {cfg.batch_size}, {cfg.size}×{cfg.size}, {cfg.threads} threads, fp32 CPU, "
        f"{cfg.repeats} alternating rounds of {cfg.warmup} warm-up + {cfg.steps} timed steps; "
        "images/s = batch ÷ median step\n"
    )
    print(format_comparison(comparison, cfg.min_ratio))
    comparison.to_json(Path(cfg.output))
    print(f"\nwritten to {cfg.output}")
    return comparison
