"""Fine-tuning controls: the backbone held fixed for the first epochs, BN frozen."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import Callback
from torch import nn


class FreezeBackbone(Callback):
    """For the first ``epochs`` epochs the backbone does not change: its gradients are dropped
    before every optimiser step (so the optimiser skips it, decay included) and its BN layers
    run in eval mode (their statistics stay). ``freeze_bn``: every BN layer, backbone or not,
    keeps its statistics and affine parameters for the whole run.

    Gradients are dropped rather than ``requires_grad`` switched off so that DDP, which records
    the trainable parameters once, keeps working when the backbone thaws."""

    def __init__(self, epochs: int = 0, freeze_bn: bool = False) -> None:
        if epochs < 0:
            raise ValueError(f"freeze_backbone_epochs must be ≥ 0, got {epochs}")
        self.epochs, self.freeze_bn = epochs, freeze_bn

    def frozen(self, trainer: L.Trainer, module: L.LightningModule) -> list[nn.Module]:
        """The modules held fixed now."""
        held = [module.model] if self.freeze_bn else []
        if trainer.current_epoch < self.epochs:
            held.append(module.model.features.backbone)
        return held

    def on_train_batch_start(
        self, trainer: L.Trainer, module: L.LightningModule, *_: object
    ) -> None:
        """(Each batch: Lightning puts the model back in train mode after every validation.)"""
        for part in self.frozen(trainer, module):
            for layer in part.modules():
                if isinstance(layer, nn.BatchNorm2d):
                    layer.eval()

    def on_before_optimizer_step(
        self, trainer: L.Trainer, module: L.LightningModule, *_: object
    ) -> None:
        backbone = module.model.features.backbone
        for part in self.frozen(trainer, module):
            for layer in part.modules():
                whole = part is backbone
                if whole or isinstance(layer, nn.BatchNorm2d):
                    for parameter in layer.parameters(recurse=False):
                        parameter.grad = None
