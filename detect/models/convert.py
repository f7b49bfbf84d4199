"""Weight import from torchvision state dicts.

Our modules keep torchvision's parameter order (stem, blocks as expand → depthwise → SE →
project, last conv, classifier) under clearer names, so a state dict maps across by position;
each pair must agree in leaf name (weight, bias, running_mean …) and shape, or we stop.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn


def remap_in_order(source: Mapping[str, Tensor], target: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename ``source`` entries to ``target``'s keys, pairing them by position."""
    if len(source) != len(target):
        raise ValueError(
            f"the state dict has {len(source)} entries but the model expects {len(target)}: "
            "build ours with the same backbone, width_mult, options and num_classes"
        )
    renamed = {}
    for (src_key, src), (dst_key, dst) in zip(source.items(), target.items(), strict=True):
        if src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1] or src.shape != dst.shape:
            raise ValueError(
                f"torchvision's {src_key} {tuple(src.shape)} does not fit our {dst_key} "
                f"{tuple(dst.shape)}: build ours with the same backbone, width_mult and options"
            )
        renamed[dst_key] = src
    return renamed


def load_torchvision(model: nn.Module, state_dict: Mapping[str, Tensor]) -> nn.Module:
    """Load a torchvision state dict: ``mobilenet_v2`` / ``mobilenet_v3_large`` / ``_small`` into
    ``mobilenet(...)``, ``ssdlite320_mobilenet_v3_large`` into ``ssdlite("v3_large",
    reduced_tail=True)``. Example: ``load_torchvision(mobilenet("v2"), tv.state_dict())``.
    """
    model.load_state_dict(remap_in_order(state_dict, model.state_dict()))
    return model
