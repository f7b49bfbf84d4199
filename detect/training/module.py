"""LightningModule: SSDLite training with decay-exempt groups, warm-up + cosine, and COCO mAP
computed once over the union of all ranks' validation images."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor
from torch.optim import Optimizer

from detect.data.categories import CategoryMap
from detect.errors import CheckpointError
from detect.evaluation.coco_eval import METRICS, CocoEvaluator
from detect.models import preprocess
from detect.models.factory import build_detector
from detect.models.predictor import detect
from detect.training.optim import (
    ScheduleConfig,
    apply_lr_mult,
    parameter_groups,
    warmup_cosine,
    warmup_steps,
)
from detect.training.speed import SpeedConfig
from detect.weights.checkpoint import CHECKPOINT_KEY, checkpoint_meta

log = logging.getLogger(__name__)

NonFinitePolicy = Literal["stop", "skip"]
Detections = list[tuple[int, dict[str, Tensor]]]  # (image id, boxes/scores/labels on the CPU)


class NonFiniteLossError(RuntimeError):
    """The loss became NaN or infinite and the policy is ``stop``."""


class DetectionModule(L.LightningModule):
    """``model_config`` is the ``model`` node (see :func:`build_detector`); ``categories`` the
    training set's category map, saved with every checkpoint together with ``run_config``.
    ``backbone_lr_mult``: the backbone's learning rate relative to the rest (fine-tuning);
    ``speed``: how the training step runs (same maths)."""

    def __init__(
        self,
        model_config: Mapping[str, Any],
        categories: CategoryMap,
        optimizer: Callable[[Iterable[dict]], Optimizer],
        schedule: ScheduleConfig = ScheduleConfig(),  # noqa: B008 - frozen dataclass
        on_nonfinite_loss: NonFinitePolicy = "stop",
        run_config: Mapping[str, Any] | None = None,
        backbone_lr_mult: float = 1.0,
        speed: SpeedConfig = SpeedConfig(),  # noqa: B008 - frozen dataclass
    ) -> None:
        super().__init__()
        if on_nonfinite_loss not in ("stop", "skip"):
            raise ValueError(
                f"on_nonfinite_loss must be 'stop' or 'skip', not {on_nonfinite_loss!r}"
            )
        self.model_config = dict(model_config)
        self.categories = categories
        self.speed = speed
        self.model = speed.prepare(build_detector(self.model_config, categories.num_classes))
        self.optimizer_factory = optimizer
        self.schedule = schedule
        self.backbone_lr_mult = backbone_lr_mult
        self.on_nonfinite_loss = on_nonfinite_loss
        self.run_config = dict(run_config or {})
        self.skipped_batches = 0
        self.total_steps: int | None = None  # of the schedule, set in configure_optimizers
        self.steps_per_epoch = 1
        self.resumed_total_steps: int | None = None
        self.evaluator: CocoEvaluator | None = None
        self.val_detections: Detections = []
        self.best: tuple[float, int] | None = None  # (AP, epoch) of the best validation so far
        self.last_summary = ""  # pycocotools' table of the last validation

    def setup(self, stage: str) -> None:
        """The validation ground truth comes from the datamodule's val dataset (indexed once)."""
        datamodule = getattr(self.trainer, "datamodule", None)
        dataset = getattr(datamodule, "val_dataset", None)
        if dataset is not None and hasattr(dataset, "coco"):
            self.evaluator = CocoEvaluator(dataset.coco, self.categories)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        return self.model(images)

    def network(self, images: Tensor) -> dict[str, Tensor]:
        """The network's raw outputs in a training step (the input in ``speed``'s layout)."""
        return self.model(self.speed.inputs(images))

    def training_step(
        self, batch: tuple[list[Tensor], list[dict]], batch_idx: int
    ) -> Tensor | None:
        images, targets = batch
        inputs = preprocess(images, self.model.size, targets)
        losses = self.model.loss(self.network(inputs.images), inputs.targets)
        loss = losses["classification"] + losses["bbox_regression"]
        nonfinite = self.trainer.strategy.reduce_boolean_decision(
            not bool(torch.isfinite(loss)), all=False
        )
        if nonfinite:
            where = f"step {self.global_step} (epoch {self.current_epoch}, batch {batch_idx})"
            if self.on_nonfinite_loss == "stop":
                raise NonFiniteLossError(
                    f"non-finite loss ({loss.item()}) at {where}: lower the learning rate or "
                    "enable gradient clipping; on_nonfinite_loss=skip skips such batches instead"
                )
            self.skipped_batches += 1
            log.warning("skipping batch with non-finite loss at %s", where)
            self.log("train/skipped_batches", float(self.skipped_batches), batch_size=len(images))
            return None
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        self.log_dict(
            {f"train/{name}": value for name, value in losses.items()}, batch_size=len(images)
        )
        return loss

    def validation_step(self, batch: tuple[list[Tensor], list[dict]], batch_idx: int) -> None:
        images, targets = batch
        for target, found in zip(targets, detect(self.model, images), strict=True):
            cpu = {key: value.cpu() for key, value in found.items()}
            self.val_detections.append((int(target["image_id"]), cpu))

    def on_validation_epoch_start(self) -> None:
        self.val_detections = []

    def on_validation_epoch_end(self) -> None:
        """Gather every rank's detections, keep each image once (the distributed sampler pads
        with repeats), score them with pycocotools on rank 0 and share the metrics."""
        if self.trainer.sanity_checking or self.evaluator is None:
            return
        gathered = self.gather_detections(self.val_detections)
        metrics: dict[str, float] = {}
        if self.trainer.is_global_zero:
            self.evaluator.reset()
            unique = dict(gathered)
            for image_id, found in unique.items():
                self.evaluator.update([image_id], [found])
            metrics, self.last_summary = self.evaluator.compute()
            metrics["images"] = float(len(unique))
            self.report(metrics)
        metrics = self.trainer.strategy.broadcast(metrics, src=0)
        self.log_dict({f"val/{name}": metrics[name] for name in (*METRICS, "images")})
        self.val_detections = []

    def report(self, metrics: dict[str, float]) -> None:
        """One line per validation: epoch, AP, AP50, the best so far (the full pycocotools
        table is printed once, at the end of training)."""
        epoch, ap = self.current_epoch, metrics["AP"]
        if self.best is None or ap > self.best[0]:
            self.best = (ap, epoch)
        log.info(
            "epoch %d: val AP %.4f, AP50 %.4f (%d images); best AP %.4f at epoch %d",
            epoch,
            ap,
            metrics["AP50"],
            metrics["images"],
            *self.best,
        )

    def gather_detections(self, local: Detections) -> Detections:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            return local
        everyone: list[Detections | None] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(everyone, local)
        return [item for part in everyone if part for item in part]

    def configure_optimizers(self) -> dict[str, Any]:
        groups = parameter_groups(self.model, self.backbone_lr_mult)
        optimizer = self.optimizer_factory(groups, **self.speed.optimizer_options())
        apply_lr_mult(optimizer)
        total = int(self.trainer.estimated_stepping_batches)  # also sizes the train loader
        self.total_steps = total
        accumulate = self.trainer.accumulate_grad_batches
        per_epoch = max(math.ceil(self.trainer.num_training_batches / accumulate), 1)
        self.steps_per_epoch = per_epoch
        scheduler = warmup_cosine(optimizer, self.schedule, total, per_epoch)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Everything eval and inference need besides the weights travels with the checkpoint."""
        checkpoint[CHECKPOINT_KEY] = checkpoint_meta(
            self.model_config,
            self.categories,
            self.run_config,
            skipped_batches=self.skipped_batches,
            total_steps=self.total_steps,
            best=list(self.best) if self.best else None,
        )

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        meta = checkpoint.get(CHECKPOINT_KEY, {})
        self.skipped_batches = meta.get("skipped_batches", 0)
        self.resumed_total_steps = meta.get("total_steps")
        self.best = tuple(meta["best"]) if meta.get("best") else None

    def on_train_start(self) -> None:
        """A resumed run that got more steps re-plans its schedule from where it stands: the
        restored cosine would end at the old total and then climb back up. Fewer steps than it
        already took are refused."""
        if self.resumed_total_steps in (None, self.total_steps):
            return
        step, total = self.global_step, self.total_steps
        if total < step:
            raise CheckpointError(
                f"the checkpoint is at step {step} but this config plans {total} steps in all: "
                "resume with at least as many trainer.max_epochs (or start a new run)"
            )
        scheduler = self.trainer.lr_scheduler_configs[0].scheduler
        ramp = warmup_steps(self.schedule, total - step, self.steps_per_epoch)
        at_join, after = scheduler.lr_lambdas[0].extend(step, total, ramp)
        base = scheduler.base_lrs[0]
        rank_zero_info(
            f"schedule extended from {self.resumed_total_steps} to {total} steps at step {step}: "
            f"the learning rate goes on from {base * at_join:.4g} (continuous at the join), "
            f"ramps to {base * after:.4g} over {ramp} steps (schedule.warmup_epochs), then "
            "follows the cosine to the end"
        )
