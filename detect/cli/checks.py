"""Config checks that run before any heavy work: a value that cannot work stops the tool with
one line naming the key and what to do, before data is read or a Trainer starts."""

from __future__ import annotations

import inspect

from hydra.utils import get_class
from omegaconf import DictConfig, OmegaConf

from detect.data.transforms import PRESETS
from detect.errors import ConfigError
from detect.models.backbones import backbone_spec
from detect.models.factory import build_detector
from detect.weights.torchvision import backbone_weights


def check_model(model: DictConfig) -> None:
    """The backbone (name, width, options) exists, the input is at least its total stride, and
    the whole detector builds."""
    backbone = OmegaConf.to_container(model.backbone, resolve=True)
    name, width = backbone.pop("name"), backbone.pop("width_mult")
    pretrained = backbone.pop("pretrained", None)
    if not isinstance(width, (int, float)) or not width > 0:
        raise ConfigError(
            f"backbone.width_mult={width}: the width multiplier α must be > 0 "
            "(e.g. 1.0, 0.75, 0.5, 0.35)"
        )
    try:
        spec = backbone_spec(name, width, **backbone)
    except ValueError as error:
        raise ConfigError(f"backbone: {error}") from None
    size = model.size
    if not isinstance(size, int) or size < spec.total_stride:
        raise ConfigError(
            f"model.size={size}: the input must be at least {name}'s total stride "
            f"{spec.total_stride} px (e.g. 160, 320, 384)"
        )
    try:
        build_detector(OmegaConf.to_container(model, resolve=True), num_classes=2)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"model: {error}") from None
    if pretrained:
        backbone_weights(name, pretrained)  # published for this backbone? (nothing downloaded)
        if width != 1.0 or backbone.get("reduced_tail"):
            raise ConfigError(
                f"backbone.pretrained={pretrained}: ImageNet weights are for width 1.0 and the "
                "full last stage: set backbone.width_mult=1.0 and backbone.reduced_tail=false "
                "(torchvision's own detectors use them so)"
            )


def at_least(cfg: DictConfig, key: str, minimum: int, allow_null: bool = False) -> None:
    value = OmegaConf.select(cfg, key)
    if value is None and allow_null:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{key}={value}: must be an integer ≥ {minimum}")


def check_speed(cfg: DictConfig) -> None:
    """The optimizer has the fused kernel ``speed.fused_optimizer`` asks for."""
    target = cfg.optimizer.get("_target_", "")
    if cfg.speed.fused_optimizer and "fused" not in inspect.signature(get_class(target)).parameters:
        raise ConfigError(
            f"speed.fused_optimizer=true but {target} has no fused kernel: set "
            "speed.fused_optimizer=false (torch fuses Adam, AdamW, SGD and Adagrad)"
        )


def check_train_config(cfg: DictConfig) -> None:
    """Everything ``tools/train.py`` can check from the config alone."""
    check_model(cfg.model)
    check_speed(cfg)
    at_least(cfg, "loader.batch_size", 1)
    at_least(cfg, "loader.val_batch_size", 1, allow_null=True)
    at_least(cfg, "loader.num_workers", 0)
    if cfg.trainer.get("max_epochs") not in (None, -1):
        at_least(cfg, "trainer.max_epochs", 1)
    if cfg.augment not in PRESETS:
        raise ConfigError(f"augment={cfg.augment}: choose one of {', '.join(PRESETS)}")
    if cfg.on_nonfinite_loss not in ("stop", "skip"):
        raise ConfigError(f"on_nonfinite_loss={cfg.on_nonfinite_loss}: choose stop or skip")
    if cfg.schedule.warmup_epochs < 0:
        raise ConfigError(f"schedule.warmup_epochs={cfg.schedule.warmup_epochs}: must be ≥ 0")
