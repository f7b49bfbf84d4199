"""Keep ONNX Runtime's blocked layout through MobileNetV3's squeeze-excite blocks.

ONNX Runtime's CPU provider runs convolutions in a blocked NCHWc layout (its NCHWc transformer,
at ``ORT_ENABLE_ALL``). The transformer keeps an elementwise ``Mul`` in that layout only when
both inputs have shapes it can prove equal, and a ``GlobalAveragePool`` only when its channels
are a multiple of the block (16 with AVX-512). An SE block's gate ``x · s`` (``s`` is
(N, C, 1, 1)) fails the first test, and the 72- and 120-channel pools fail the second. So every
SE block reorders ``x`` out of the blocked layout and back, two copies of the whole tensor.

:func:`keep_blocked_layout` rewrites those nodes into equivalent ones the transformer keeps:
- the gate is upsampled to ``x``'s size before the ``Mul`` (nearest, integer scales: the
  transformer's blocked Upsample);
- each global average pool becomes a depthwise convolution with weights 1 / (H·W);
- the shapes are written out (``value_info``) so that ONNX Runtime can prove ``x`` and the
  upsampled gate equal.

The network input is resized to a fixed ``size`` × ``size``, so every later spatial size is
static. The results are the same up to float rounding (a sum in another order for the pools).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def keep_blocked_layout(proto: onnx.ModelProto, size: int) -> None:
    """Rewrite ``proto`` in place: see the module docstring. ``size``: the network's input."""
    graph = proto.graph
    batch_dim = graph.input[0].type.tensor_type.shape.dim[0]
    batch = batch_dim.dim_param or batch_dim.dim_value  # "batch" as exported
    network_input = next(node for node in graph.node if node.op_type == "Resize")
    _declare(graph, network_input.output[0], [batch, 3, size, size])
    shapes = _static_shapes(proto)
    initializers = {tensor.name for tensor in graph.initializer}
    for node in list(graph.node):
        if node.op_type == "GlobalAveragePool" and node.input[0] in shapes:
            _pool_as_convolution(graph, node, shapes[node.input[0]])
        elif node.op_type == "Mul" and not initializers & set(node.input):
            gate = _channel_gate(node, shapes)
            if gate is not None:
                _upsample_gate(graph, node, gate, shapes[node.input[1 - gate]], batch)


def _static_shapes(proto: onnx.ModelProto) -> dict[str, list[int]]:
    """Every 4-D tensor whose channel and spatial sizes shape inference knows."""
    inferred = onnx.shape_inference.infer_shapes(proto).graph.value_info
    shapes = {}
    for value in inferred:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and all(dim.HasField("dim_value") for dim in dims[1:]):
            shapes[value.name] = [0] + [dim.dim_value for dim in dims[1:]]
    return shapes


def _channel_gate(node: onnx.NodeProto, shapes: dict[str, list[int]]) -> int | None:
    """Which input of a ``Mul`` is a per-channel (N, C, 1, 1) gate on the other (N, C, H, W)."""
    if len(node.input) != 2 or not all(name in shapes for name in node.input):
        return None
    for gate in (0, 1):
        small, large = shapes[node.input[gate]], shapes[node.input[1 - gate]]
        if small[2:] == [1, 1] and small[1] == large[1] and large[2] * large[3] > 1:
            return gate
    return None


def _upsample_gate(
    graph: onnx.GraphProto, node: onnx.NodeProto, gate: int, shape: list[int], batch: int | str
) -> None:
    name = f"{node.name}/gate_upsampled"
    scales = numpy_helper.from_array(np.array([1, 1, *shape[2:]], np.float32), f"{name}/scales")
    graph.initializer.append(scales)
    upsample = helper.make_node(
        "Resize",
        [node.input[gate], "", scales.name],
        [name],
        name=name,
        mode="nearest",
        coordinate_transformation_mode="asymmetric",
        nearest_mode="floor",
    )
    graph.node.insert(list(graph.node).index(node), upsample)
    node.input[gate] = name
    _declare(graph, name, [batch, *shape[1:]])


def _pool_as_convolution(graph: onnx.GraphProto, node: onnx.NodeProto, shape: list[int]) -> None:
    channels, height, width = shape[1:]
    weight = np.full((channels, 1, height, width), 1.0 / (height * width), np.float32)
    weights = numpy_helper.from_array(weight, f"{node.name}/mean_weights")
    graph.initializer.append(weights)
    convolution = helper.make_node(
        "Conv",
        [node.input[0], weights.name],
        list(node.output),
        name=f"{node.name}/as_convolution",
        group=channels,
        kernel_shape=[height, width],
    )
    index = list(graph.node).index(node)
    graph.node.remove(node)
    graph.node.insert(index, convolution)


def _declare(graph: onnx.GraphProto, name: str, shape: list[int | str]) -> None:
    graph.value_info.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, shape))
