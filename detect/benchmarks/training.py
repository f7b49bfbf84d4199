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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torchvision
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig, OmegaConf
from torch import Tensor
from torch.utils.data import DataLoader

from detect.benchmarks.compare import Comparison, Throughput, throughput_table
from detect.benchmarks.twins import NUM_CLASSES, torchvision_ssdlite
from detect.data.categories import CategoryMap
from detect.errors import ConfigError
from detect.models import load_torchvision
from detect.training.module import DetectionModule
from detect.training.optim import ScheduleConfig, parameter_groups

OURS = "detect: Lightning DetectionModule"
THEIRS = "torchvision: bare PyTorch loop"
LOSS_TOLERANCE = 1e-4  # relative difference of the first step's losses still called equal
NOISY_STEP = 2.0  # a step this many times slower than the median one means a busy machine

Batch = tuple[list[Tensor], list[dict[str, Any]]]


@dataclass
class TrainingComparison:
    """Ours and torchvision's loops, measured in one process, and the settings."""

    comparison: Comparison[Throughput]
    settings: dict[str, Any]

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
        scale = max(abs(self.theirs.first_loss), 1e-12)
        return abs(self.ours.first_loss - self.theirs.first_loss) <= LOSS_TOLERANCE * scale

    @property
    def noisy(self) -> bool:
        return any(r.slowest_step_ratio > NOISY_STEP for r in (self.ours, self.theirs))

    def to_json(self, path: Path) -> None:
        report = {
            "settings": self.settings,
            "rows": [self.ours.to_dict(), self.theirs.to_dict()],
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


class StepTimer(Callback):
    """``perf_counter`` at the end of every training step, the first step's loss, the threads."""

    def __init__(self) -> None:
        self.ends: list[float] = []
        self.first_loss = math.nan
        self.threads = 0

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        self.ends.append(time.perf_counter())
        if len(self.ends) == 1:
            self.first_loss = float(outputs["loss"])
            self.threads = torch.get_num_threads()


def periods(ends: list[float], warmup: int) -> tuple[float, ...]:
    """Seconds from the end of each step to the end of the next, for the steps after warmup."""
    return tuple(ends[i] - ends[i - 1] for i in range(warmup, len(ends)))


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


def run_ours(
    model_config: Mapping[str, Any],
    state: Mapping[str, Tensor],
    batches: list[Batch],
    warmup: int,
    optimizer: functools.partial,
) -> tuple[tuple[float, ...], float, int]:
    """Periods of the steps after ``warmup``, the first step's loss, threads: ``Trainer.fit``."""
    categories = CategoryMap(
        tuple(range(1, NUM_CLASSES)), tuple(f"class{i}" for i in range(1, NUM_CLASSES))
    )
    module = DetectionModule(
        model_config,
        categories,
        optimizer,
        schedule=ScheduleConfig(warmup_epochs=0, min_lr_ratio=1.0),  # constant lr, as theirs
    )
    load_torchvision(module.model, state)
    timer = StepTimer()
    loader = DataLoader(batches, batch_size=None, shuffle=False, collate_fn=_unchanged)
    with quiet_lightning():
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            precision="32-true",
            max_epochs=1,
            max_steps=len(batches),
            callbacks=[timer],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            limit_val_batches=0,
        )
        trainer.fit(module, train_dataloaders=loader)
    if len(timer.ends) != len(batches):
        raise RuntimeError(f"Lightning ran {len(timer.ends)} of {len(batches)} steps")
    return periods(timer.ends, warmup), timer.first_loss, timer.threads


def run_theirs(
    size: int,
    state: Mapping[str, Tensor],
    batches: list[Batch],
    warmup: int,
    optimizer: functools.partial,
    seed: int,
) -> tuple[tuple[float, ...], float, int]:
    """The same for the bare loop: ``sum(model(images, targets).values())``, backward, step."""
    model = torchvision_ssdlite(seed, size=size)
    model.load_state_dict(state)
    model.train()
    opt = optimizer(parameter_groups(model))
    ends, first_loss, threads = [], math.nan, 0
    for images, targets in batches:
        inputs = [image.float() / 255.0 for image in images]
        boxes = [{"boxes": target["boxes"], "labels": target["labels"]} for target in targets]
        loss = sum(model(inputs, boxes).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        ends.append(time.perf_counter())
        if len(ends) == 1:
            first_loss, threads = float(loss.detach()), torch.get_num_threads()
    return periods(ends, warmup), first_loss, threads


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
) -> TrainingComparison:
    """Train both loops ``repeats`` times, alternating, on ``warmup + steps`` identical batches.

    ``model_config`` is the ``model`` node of ``conf/train.yaml``; it must describe torchvision's
    model (v3_large, width 1.0, reduced tail, the ssdlite head) for the weights to load.
    """
    if warmup < 1 or steps < 1 or repeats < 1 or batch_size < 1:
        raise ConfigError(
            f"warmup, steps, repeats and batch_size must be at least 1, got {warmup}, {steps}, "
            f"{repeats}, {batch_size} (the first step is never timed)"
        )
    size = int(model_config["size"])
    batches = synthetic_batches(warmup + steps, batch_size, size, boxes_per_image, seed)
    state = {k: v.clone() for k, v in torchvision_ssdlite(seed, size=size).state_dict().items()}
    optimizer = sgd(lr, momentum, weight_decay)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    rounds: dict[str, list[tuple[tuple[float, ...], float, int]]] = {OURS: [], THEIRS: []}
    try:
        for index in range(repeats):
            order = (OURS, THEIRS) if index % 2 == 0 else (THEIRS, OURS)
            for loop in order:
                if loop == OURS:
                    rounds[OURS].append(run_ours(model_config, state, batches, warmup, optimizer))
                else:
                    rounds[THEIRS].append(run_theirs(size, state, batches, warmup, optimizer, seed))
    finally:
        torch.set_num_threads(previous_threads)

    def throughput(loop: str) -> Throughput:
        timed, first_loss, seen_threads = zip(*rounds[loop], strict=True)
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
        "precision": "fp32",
        "device": "cpu",
        "seed": seed,
        "model": dict(model_config),
        "versions": {
            "torch": torch.__version__,
            "torchvision": torchvision.__version__,
            "lightning": L.__version__,
        },
    }
    ours, theirs = throughput(OURS), throughput(THEIRS)
    result = TrainingComparison(Comparison(theirs, [ours]), settings)
    detail = f"first-step loss {ours.first_loss:.6g} vs {theirs.first_loss:.6g}"
    result.comparison.checks.append((result.same_loss, detail))
    return result


def format_comparison(comparison: TrainingComparison, min_ratio: float = 0.9) -> str:
    """A markdown table, both rows, then the ratio against ``min_ratio``."""
    lines = [throughput_table(comparison.comparison)]
    verdict = "met" if comparison.ratio >= min_ratio else "NOT met"
    lines.append("")
    lines.append(
        f"ours ÷ torchvision: {comparison.ratio:.2f}× (> 1: ours is faster; "
        f"required ≥ {min_ratio:.2f}×: {verdict})"
    )
    if comparison.noisy:
        lines.append(
            f"warning: some steps took over {NOISY_STEP:g}× the median step (slowest: ours "
            f"{comparison.ours.slowest_step_ratio:.1f}×, torchvision "
            f"{comparison.theirs.slowest_step_ratio:.1f}×): other processes shared the cores; "
            "the median absorbs a few such steps, but rerun on an idle machine for a clean number"
        )
    if not comparison.same_loss:
        lines.append(
            "warning: the first step's losses differ, so the two loops do not train the same "
            "model on the same data: check that model describes torchvision's SSDLite"
        )
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
