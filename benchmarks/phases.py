"""Where a training step's time goes, in our Lightning loop: one callback that timestamps the
step's phases through Lightning's hooks and thin wrappers around the module's calls.

A step is the period from the end of one ``on_train_batch_end`` to the end of the next, cut at:

- ``data``: until ``on_train_batch_start`` (the loader's next batch, its transfer);
- ``preprocess``: until the network is called (``training_step`` entry, :func:`preprocess`);
- ``forward``: the network (:meth:`DetectionModule.network`);
- ``loss``: matching, hard negatives and both losses (``model.loss``);
- ``checks+log``: until ``on_before_backward`` (the non-finite check, ``self.log``, zero_grad);
- ``backward``: until ``on_after_backward``;
- ``optimizer``: ``on_before_optimizer_step`` to the optimizer's step post-hook (clipping too);
- ``ema``: the EMA callback's ``on_train_batch_end`` (when one is given);
- ``other``: the rest — Lightning's loop between hooks, the scheduler, logging's bookkeeping.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from detect.training.module import DetectionModule

PHASES = (
    "data",
    "preprocess",
    "forward",
    "loss",
    "checks+log",
    "backward",
    "optimizer",
    "ema",
    "other",
)
# each measured phase: (the mark it starts at, the mark it ends at)
SPANS = {
    "data": ("end", "batch_start"),
    "preprocess": ("batch_start", "forward_start"),
    "forward": ("forward_start", "forward_end"),
    "loss": ("forward_end", "loss_end"),
    "checks+log": ("loss_end", "backward_start"),
    "backward": ("backward_start", "backward_end"),
    "optimizer": ("optimizer_start", "optimizer_end"),
    "ema": ("ema_start", "ema_end"),
}


class PhaseTimer(Callback):
    """Timestamps of every step's phases (see the module's docstring). ``ema``: the EMA
    callback of the same Trainer, whose batch-end hook is timed. Also keeps the first step's
    loss and the intra-op threads seen in the step. Place it last among the callbacks."""

    def __init__(self, ema: Callback | None = None) -> None:
        self.ema = ema
        self.steps: list[dict[str, float]] = []
        self.marks: dict[str, float] = {}
        self.first_loss = float("nan")
        self.threads = 0

    def mark(self, name: str) -> None:
        self.marks[name] = time.perf_counter()

    def wrap(self, function: Callable[..., Any], before: str | None, after: str) -> Callable:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if before:
                self.mark(before)
            result = function(*args, **kwargs)
            self.mark(after)
            return result

        return timed

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not isinstance(module, DetectionModule):
            raise TypeError(f"PhaseTimer times a DetectionModule, not {type(module).__name__}")
        module.network = self.wrap(module.network, "forward_start", "forward_end")
        module.model.loss = self.wrap(module.model.loss, None, "loss_end")
        if self.ema is not None:
            hook = self.ema.on_train_batch_end
            self.ema.on_train_batch_end = self.wrap(hook, "ema_start", "ema_end")

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        for optimizer in trainer.optimizers:
            optimizer.register_step_post_hook(lambda *_: self.mark("optimizer_end"))
        self.mark("end")

    def on_train_batch_start(self, *args: Any) -> None:
        self.mark("batch_start")

    def on_before_backward(self, *args: Any) -> None:
        self.mark("backward_start")

    def on_after_backward(self, *args: Any) -> None:
        self.mark("backward_end")

    def on_before_optimizer_step(self, *args: Any) -> None:
        self.mark("optimizer_start")

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        if module.device.type == "cuda":  # the step ends when the GPU is done with it
            torch.cuda.synchronize(module.device)
        now = time.perf_counter()
        marks = self.marks
        step = {phase: marks[b] - marks[a] for phase, (a, b) in SPANS.items() if b in marks}
        step["total"] = now - self.marks["end"]
        step["other"] = step["total"] - sum(v for k, v in step.items() if k != "total")
        self.steps.append(step)
        if len(self.steps) == 1:
            self.first_loss = float(outputs["loss"])
            self.threads = torch.get_num_threads()
        self.marks = {"end": now}


def median_phases(steps: list[dict[str, float]]) -> dict[str, float]:
    """Each phase's median seconds over ``steps`` (``total``: the median whole step)."""
    names = [p for p in (*PHASES, "total") if any(p in step for step in steps)]
    return {name: statistics.median(step.get(name, 0.0) for step in steps) for name in names}
