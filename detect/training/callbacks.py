"""Callbacks that keep a run's end state safe — a fresh ``last.ckpt`` and a final validation —
and one that says how it goes: a progress line per epoch."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

log = logging.getLogger(__name__)


class LastCheckpoint(Callback):
    """``last.ckpt`` after every ``every_n_train_steps`` steps (mid-epoch too), after every
    validation and at the end of training — always the newest state, whatever the monitored
    metric did. (Lightning's ``save_last`` refreshes it only when that callback saves.)

    Place it before the EMA callback: at the end of training the EMA copies its average into the
    raw weights, and the raw ones must be saved first."""

    def __init__(self, path: Path, every_n_train_steps: int) -> None:
        self.path = Path(path)
        self.every_n_train_steps = every_n_train_steps
        self.saved_step = -1

    def save(self, trainer: L.Trainer, again: bool = False) -> None:
        """Once per step, unless ``again``."""
        if again or trainer.global_step != self.saved_step:
            trainer.save_checkpoint(self.path, weights_only=False)  # resumable: full state
            self.saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, *args: object) -> None:
        if self.every_n_train_steps and trainer.global_step % self.every_n_train_steps == 0:
            self.save(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == "fit":
            # again, even when this step was saved after its batch: that save came before the
            # EMA callback's update of the step, and last.ckpt must hold what was validated
            self.save(trainer, again=True)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)


class ValidateLastEpoch(Callback):
    """Validate after the last epoch even when ``check_val_every_n_epoch`` does not divide
    ``max_epochs``, so the final weights are always scored (and can become the best)."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.max_epochs and trainer.current_epoch == trainer.max_epochs - 1:
            trainer.check_val_every_n_epoch = 1


class EpochProgress(Callback):
    """One line per finished training epoch in the run's log (``train.log``, and the console):
    the epoch of how many, the training loss at its last step, its time and the time left at
    that pace —
    so a long run says how it is doing between validations."""

    def __init__(self) -> None:
        self.started = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.started = time.monotonic()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        seconds = time.monotonic() - self.started
        epoch, total = trainer.current_epoch + 1, trainer.max_epochs
        loss = trainer.callback_metrics.get("train/loss")
        known = total is not None and total > 0
        # numbered from 0, as the validation lines are; "(n/total)" counts them
        parts = [
            f"epoch {epoch - 1} done ({epoch}/{total})" if known else f"epoch {epoch - 1} done"
        ]
        if loss is not None:
            parts.append(f"train/loss {float(loss):.4f} at step {trainer.global_step}")
        parts.append(f"{seconds:.1f} s")
        if known and epoch < total:
            left = (total - epoch) * seconds
            parts.append(
                f"about {left:.0f} s left" if left < 90 else f"about {left / 60:.0f} min left"
            )
        log.info(", ".join(parts))
