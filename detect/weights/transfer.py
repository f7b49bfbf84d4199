"""Fine-tuning's start: a source detector's weights in a detector for other categories.

Every tensor that exists in both with the same shape is copied. The class layers are rebuilt for
the new categories: the rows of a category whose name the source knows are the source's rows
(so a COCO detector fine-tuned on "person, car" keeps what it knew of both), new categories
start from the init, and — with ``fold_unmatched`` — the source's other classes stay in the
head folded into background (see :class:`~detect.models.ssdlite.SSDLiteHead`), so that before
any step every kept category has exactly the probabilities, detections and AP it had.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from detect.data.categories import CategoryMap
from detect.models import SSDLite
from detect.weights.checkpoint import Checkpoint


@dataclass
class Transfer:
    """What an ``init_from`` carried over, and what it did not."""

    source: str
    copied: int = 0  # tensors copied whole
    matched: list[str] = field(default_factory=list)  # categories whose class rows came along
    new: list[str] = field(default_factory=list)  # categories that start from the init
    folded: list[str] = field(default_factory=list)  # source categories kept as background
    skipped: list[str] = field(default_factory=list)  # tensors left as initialised

    def summary(self) -> str:
        lines = [
            f"init_from {self.source}: {self.copied} tensors copied, class rows of "
            f"{len(self.matched)} categories matched by name, {len(self.new)} new, "
            f"{len(self.folded)} source categories folded into background, "
            f"{len(self.skipped)} tensors re-initialised"
        ]
        for what, names in (
            ("matched", self.matched),
            ("new (from the init)", self.new),
            ("folded into background", self.folded),
            ("re-initialised", self.skipped),
        ):
            if names:
                lines.append(f"  {what}: {', '.join(names)}")
        return "\n".join(lines)


@dataclass(frozen=True)
class HeadPlan:
    """The new class head: its folded outputs, and per output the source output whose rows
    it takes (None: from the init)."""

    folded: list[int]
    rows: list[int | None]
    matched: list[str]
    new: list[str]
    folded_names: list[str]


def plan_head(source: Checkpoint, categories: CategoryMap, fold_unmatched: bool) -> HeadPlan:
    """Output 0 is background, 1..K the new categories in their order, then the folded ones
    (the source's unmatched categories and its own folded outputs)."""
    head = source.model.head
    output_of = [0, *head.kept.tolist()]  # the source's output index of each source label
    label_of = {name: label for label, name in enumerate(source.categories.names, start=1)}
    rows: list[int | None] = [0]
    rows += [output_of[label_of[name]] if name in label_of else None for name in categories.names]
    unmatched = [name for name in source.categories.names if name not in categories.names]
    folded_rows = (
        sorted([output_of[label_of[name]] for name in unmatched] + list(head.folded_classes))
        if fold_unmatched
        else []
    )
    first = categories.num_classes
    return HeadPlan(
        folded=list(range(first, first + len(folded_rows))),
        rows=rows + folded_rows,
        matched=[name for name in categories.names if name in label_of],
        new=[name for name in categories.names if name not in label_of],
        folded_names=unmatched if fold_unmatched else [],
    )


def transfer_config(model_config: Mapping[str, Any], plan: HeadPlan) -> dict[str, Any]:
    """``model_config`` with the class head ``plan`` folds."""
    config = copy.deepcopy(dict(model_config))
    config["head"] = {**config["head"], "folded_classes": plan.folded}
    return config


def class_layers(model: SSDLite) -> list[nn.Conv2d]:
    """Each feature map's last class convolution (its rows: anchor-major, then class output)."""
    return [block[-1] for block in model.head.classification]


def transfer_weights(source: Checkpoint, target: SSDLite, plan: HeadPlan, name: str) -> Transfer:
    """Copy into ``target`` what fits of ``source.model`` (see the module doc)."""
    report = Transfer(name, matched=plan.matched, new=plan.new, folded=plan.folded_names)
    mine, theirs = target.state_dict(), source.model.state_dict()  # views of the tensors
    heads = set(class_layers(target))
    rows_by_layer = {
        f"{name}.{leaf}"
        for name, module in target.named_modules()
        if module in heads
        for leaf in ("weight", "bias")
    }
    with torch.no_grad():
        for key, value in mine.items():
            if key in rows_by_layer:
                continue
            if key in theirs and theirs[key].shape == value.shape:
                value.copy_(theirs[key])
                report.copied += 1
            else:
                report.skipped.append(key)
        pairs = zip(class_layers(target), class_layers(source.model), strict=True)
        for index, (new, old) in enumerate(pairs):
            if not map_rows(new, old, plan.rows, target.head.outputs, source.model.head.outputs):
                report.skipped.append(f"head.classification.{index} (other anchors per cell)")
    return report


def map_rows(
    new: nn.Conv2d, old: nn.Conv2d, rows: list[int | None], outputs: int, theirs: int
) -> bool:
    """Copy class rows ``old`` → ``new`` per anchor, ``rows[r]`` giving the source output of
    output ``r``; False (nothing copied) when the layers differ in anchors or input."""
    anchors = new.out_channels // outputs
    if old.out_channels != anchors * theirs or old.in_channels != new.in_channels:
        return False
    for target, src in enumerate(rows):
        if src is None:
            continue
        to = torch.arange(anchors) * outputs + target
        frm = torch.arange(anchors) * theirs + src
        new.weight[to] = old.weight[frm]
        new.bias[to] = old.bias[frm]
    return True
