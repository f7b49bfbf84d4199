"""Model cost — parameters and multiply-adds — two ways: from the papers' formulas, and counted.

Analytic: every layer of a resolved layer table through V1 §3.1's formulas (standard conv
D_K·D_K·M·N·D_F·D_F, depthwise D_K·D_K·M·D_F·D_F, pointwise M·N·D_F·D_F) and M·N for a fully
connected layer. Counted: torch's FlopCounterMode over a real forward pass. Like the papers, both
count only convolutions and fully connected layers (not BN, activations, pooling or adds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from detect.models.backbones import MobileNet, MobileNetSpec, backbone_spec, mobilenet
from detect.models.layers import BlockSpec


@dataclass(frozen=True)
class LayerCost:
    """One convolution or fully connected layer: what it is, its output size and its cost."""

    name: str
    kind: str
    in_ch: int
    out_ch: int
    kernel: int
    out_size: int
    params: int
    madds: int


@dataclass(frozen=True)
class PaperFigure:
    """A published (params, MAdds) pair for a backbone at a width, input 224."""

    params_m: float
    madds_m: float
    source: str


# Widths follow torchvision's rule (every layer × α, rounded to 8), which its weights need; the
# V3 paper's α=0.75 models come from TF code that scales differently (its 1280-wide classifier
# layer, for one, is not scaled), hence 10-17% gaps on those two rows — shown, not asserted.
PAPER_FIGURES: dict[tuple[str, float], PaperFigure] = {
    ("v1", 1.0): PaperFigure(4.2, 569, "V1 paper Table 6"),
    ("v1", 0.75): PaperFigure(2.6, 325, "V1 paper Table 6"),
    ("v1", 0.5): PaperFigure(1.3, 149, "V1 paper Table 6"),
    ("v2", 1.0): PaperFigure(3.4, 300, "V2 paper Table 4"),
    ("v2", 0.75): PaperFigure(2.61, 209, "V2 reference checkpoints (TF-slim)"),
    ("v2", 0.5): PaperFigure(1.95, 97, "V2 reference checkpoints (TF-slim)"),
    ("v2", 0.35): PaperFigure(1.66, 59, "V2 reference checkpoints (TF-slim)"),
    ("v3_large", 1.0): PaperFigure(5.4, 219, "V3 paper Table 3"),
    ("v3_large", 0.75): PaperFigure(4.0, 155, "V3 paper Table 3"),
    ("v3_small", 1.0): PaperFigure(2.5, 56, "V3 paper Table 3"),
    ("v3_small", 0.75): PaperFigure(2.0, 44, "V3 paper Table 3"),
}


def _conv(
    name: str,
    kernel: int,
    in_ch: int,
    out_ch: int,
    out_size: int,
    groups: int = 1,
    bn: bool = True,
    bias: bool = False,
) -> LayerCost:
    """A k×k conv: standard (groups=1), depthwise (groups=M=N) or pointwise (k=1)."""
    weights = kernel * kernel * in_ch * out_ch // groups
    if groups == 1 and kernel == 1:
        kind, madds = "pointwise", in_ch * out_ch * out_size**2  # M·N·D_F·D_F
    elif groups == in_ch == out_ch:
        kind, madds = "depthwise", kernel * kernel * in_ch * out_size**2  # D_K·D_K·M·D_F·D_F
    else:
        kind, madds = "conv", kernel * kernel * in_ch * out_ch * out_size**2  # D_K²·M·N·D_F²
    extra = 2 * out_ch * bn + out_ch * bias  # BN scale and shift; conv bias
    return LayerCost(name, kind, in_ch, out_ch, kernel, out_size, weights + extra, madds)


def _fc(name: str, in_ch: int, out_ch: int) -> LayerCost:
    """A fully connected layer (or a 1×1 conv on a 1×1 map) with bias: M·N multiply-adds."""
    return LayerCost(name, "fc", in_ch, out_ch, 1, 1, in_ch * out_ch + out_ch, in_ch * out_ch)


def _block(index: int, block: BlockSpec, in_size: int) -> list[LayerCost]:
    out_size = math.ceil(in_size / block.stride)
    exp, name = block.exp_ch, f"block{index}"
    layers = []
    if exp != block.in_ch:
        layers.append(_conv(f"{name}.expand", 1, block.in_ch, exp, in_size))
    layers.append(_conv(f"{name}.depthwise", block.kernel, exp, exp, out_size, groups=exp))
    if block.se_ch:
        layers += [_fc(f"{name}.se.fc1", exp, block.se_ch), _fc(f"{name}.se.fc2", block.se_ch, exp)]
    layers.append(_conv(f"{name}.project", 1, exp, block.out_ch, out_size))
    return layers


def analytic_layers(
    spec: MobileNetSpec, size: int = 224, num_classes: int = 1000
) -> list[LayerCost]:
    """Per-layer cost of ``spec`` on a ``size``×``size`` input, from the papers' formulas."""
    stem = spec.stem
    feature_size = math.ceil(size / stem.stride)
    layers = [_conv("stem", stem.kernel, stem.in_ch, stem.out_ch, feature_size)]
    for index, block in enumerate(spec.blocks, start=1):
        layers += _block(index, block, feature_size)
        feature_size = math.ceil(feature_size / block.stride)
    if spec.last_conv:
        last = spec.last_conv
        layers.append(_conv("last_conv", 1, last.in_ch, last.out_ch, feature_size))
    head = spec.classifier
    in_ch = head.in_ch
    if head.hidden_ch:
        layers.append(_fc("classifier.hidden", in_ch, head.hidden_ch))
        in_ch = head.hidden_ch
    layers.append(_fc("classifier", in_ch, num_classes))
    return layers


@dataclass(frozen=True)
class Cost:
    params: int
    madds: int


def analytic_cost(spec: MobileNetSpec, size: int = 224, num_classes: int = 1000) -> Cost:
    """Total params and MAdds from the layer table alone (no model is built)."""
    layers = analytic_layers(spec, size, num_classes)
    return Cost(sum(layer.params for layer in layers), sum(layer.madds for layer in layers))


def counted_cost(model: nn.Module, size: int = 224) -> Cost:
    """Params of ``model`` and the MAdds torch counts in one eval-mode forward (FLOPs / 2)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, size, size, device=device))
    model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    return Cost(params, counter.get_total_flops() // 2)


@dataclass(frozen=True)
class CostRow:
    backbone: str
    width_mult: float
    analytic: Cost
    counted: Cost
    paper: PaperFigure | None


def cost_table(backbones: list[str], widths: list[float], size: int = 224) -> list[CostRow]:
    """One row per (backbone, width): analytic vs counted cost, and the published figure."""
    rows = []
    for name in backbones:
        for width in widths:
            spec = backbone_spec(name, width)
            rows.append(
                CostRow(
                    name,
                    width,
                    analytic_cost(spec, size),
                    counted_cost(mobilenet(name, width), size),
                    PAPER_FIGURES.get((name, width)) if size == 224 else None,
                )
            )
    return rows


def format_cost_table(rows: list[CostRow]) -> str:
    """A markdown table: params and MAdds (millions), analytic | counted | paper (Δ%)."""
    lines = [
        "| backbone | α | params (M) analytic | counted | paper | Δ | "
        "MAdds (M) analytic | counted | paper | Δ | source |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        params, madds = row.analytic.params / 1e6, row.analytic.madds / 1e6
        paper = row.paper
        cells = [
            row.backbone,
            f"{row.width_mult:g}",
            f"{params:.3f}",
            f"{row.counted.params / 1e6:.3f}",
            f"{paper.params_m:g}" if paper else "—",
            f"{100 * (params / paper.params_m - 1):+.1f}%" if paper else "—",
            f"{madds:.1f}",
            f"{row.counted.madds / 1e6:.1f}",
            f"{paper.madds_m:g}" if paper else "—",
            f"{100 * (madds / paper.madds_m - 1):+.1f}%" if paper else "—",
            paper.source if paper else "—",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_summary(model: MobileNet, size: int = 224) -> str:
    """A backbone's layers, feature taps and totals (analytic, checked against counted)."""
    spec = model.spec
    num_classes = model.classifier[-1].out_features
    layers = analytic_layers(spec, size, num_classes)
    lines = [
        f"{spec.name} at {size}×{size}, BN eps {spec.bn.eps:g} momentum {spec.bn.momentum:g}",
        "",
        "| layer | kind | in | out | k | out size | params | MAdds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for layer in layers:
        lines.append(
            f"| {layer.name} | {layer.kind} | {layer.in_ch} | {layer.out_ch} | {layer.kernel} | "
            f"{layer.out_size} | {layer.params:,} | {layer.madds:,} |"
        )
    analytic, counted = analytic_cost(spec, size, num_classes), counted_cost(model, size)
    lines += ["", "feature taps (for detection):"]
    for info in model.feature_info:
        side = math.ceil(size / info.stride)
        lines.append(
            f"  {info.name}: {info.channels} channels, stride {info.stride}, {side}×{side}"
        )
    lines += [
        "",
        f"params: {analytic.params:,} (counted {counted.params:,})",
        f"MAdds:  {analytic.madds / 1e6:.1f} M (counted {counted.madds / 1e6:.1f} M)",
    ]
    return "\n".join(lines)
