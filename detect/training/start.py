"""The weights a run starts from: a checkpoint it continues, a detector it fine-tunes
(``init_from``, its class head re-planned for this data's categories), ImageNet weights for the
backbone, or the init.

Three steps, because each needs what the one before settled: :func:`plan_start` (before any
data is read: which network, refused early when it cannot work), :func:`for_categories` (once
the data's categories are known: the class head), :func:`load_start_weights` (once the detector
is built)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lightning.pytorch.utilities import rank_zero_info

from detect.data.categories import CategoryMap
from detect.errors import ConfigError
from detect.models import SSDLite
from detect.training.resume import check_resume
from detect.weights.checkpoint import CHECKPOINT_KEY, Checkpoint
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint
from detect.weights.torchvision import load_backbone
from detect.weights.transfer import HeadPlan, plan_head, transfer_config, transfer_weights


@dataclass(frozen=True)
class Start:
    """Where a run's weights come from, and the network (``model_config``) they fit."""

    model_config: dict[str, Any]
    resume_from: str | None = None  # a checkpoint continued (weights, optimiser, step)
    source: Checkpoint | None = None  # the detector fine-tuned from (``init_from``)
    init_from: str | None = None  # the source as it was named
    plan: HeadPlan | None = None  # the source's class rows for this data's categories


def plan_start(
    model_config: Mapping[str, Any],
    *,
    batch_size: int,
    max_epochs: int | None,
    resume_from: str | Path | None = None,
    init_from: str | Path | None = None,
    architecture: str = "source",
    hub: HubConfig | None = None,
) -> Start:
    """A continued run is exactly the network of ``resume_from`` (checked to fit ``batch_size``
    and ``max_epochs``: see :func:`check_resume`); a fine-tuned one is ``init_from``'s network
    (``architecture="source"``) or ``model_config``'s (``"config"``); else ``model_config``."""
    if resume_from:
        raw = check_resume(resume_from, batch_size, max_epochs)
        rank_zero_info(
            f"resuming from {resume_from} (epoch {raw['epoch']}, global step {raw['global_step']})"
        )
        return Start(raw[CHECKPOINT_KEY]["model"], resume_from=str(resume_from))
    if not init_from:
        return Start(dict(model_config))
    source = open_checkpoint(init_from, hub)
    if architecture == "source":
        model_config = source.model_config
    elif architecture != "config":
        raise ConfigError(f"finetune.architecture={architecture}: choose source or config")
    return Start(dict(model_config), source=source, init_from=str(init_from))


def for_categories(start: Start, categories: CategoryMap, fold_unmatched: bool = True) -> Start:
    """``start`` with a fine-tuned class head planned for ``categories`` (the source's rows of
    the categories it knows by name; ``fold_unmatched``: its other classes kept as background,
    see :func:`~detect.weights.transfer.plan_head`); any other start is returned as it is."""
    if start.source is None:
        return start
    plan = plan_head(start.source, categories, fold_unmatched)
    return replace(start, model_config=transfer_config(start.model_config, plan), plan=plan)


def load_start_weights(start: Start, model: SSDLite, hub: HubConfig | None = None) -> None:
    """Put the starting weights in ``model``, built from ``start.model_config``: the source's
    (after :func:`for_categories`), or the backbone's ImageNet weights when the config names
    them. A continued run's weights are left to Lightning's fit, with the optimiser's."""
    if start.source is not None:
        if start.plan is None:
            raise ValueError("plan the class head first: for_categories(start, categories)")
        rank_zero_info(transfer_weights(start.source, model, start.plan, start.init_from).summary())
    elif start.resume_from is None and start.model_config["backbone"].get("pretrained"):
        backbone = start.model_config["backbone"]
        load_backbone(model, backbone["name"], backbone["pretrained"], hub)
        rank_zero_info(f"backbone: {backbone['name']} ImageNet weights ({backbone['pretrained']})")
