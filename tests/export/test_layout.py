"""The exported graph keeps ONNX Runtime's blocked layout through the squeeze-excite blocks:
each gate meets its feature map at the same shape, no pool is left that the layout cannot run,
and ONNX Runtime's optimised graph reorders nothing back to NCHW inside the network."""

from __future__ import annotations

import collections

import onnx
import onnxruntime as ort
import pytest
from support.models import PLACEHOLDER_IDS, conditioned_model

from detect.data.categories import CategoryMap
from detect.export import onnx as onnx_export
from detect.export.onnx import export_bytes, metadata_for
from detect.export.runtime import session_options

CATEGORIES = CategoryMap(PLACEHOLDER_IDS, tuple(f"class {i}" for i in PLACEHOLDER_IDS))


@pytest.fixture(scope="module")
def model(coco_images):
    return conditioned_model("v3_large", coco_images)


def exported(model, outputs: str = "raw") -> onnx.ModelProto:
    metadata = metadata_for(model, CATEGORIES, {}, {}, outputs)
    return onnx.load_from_string(export_bytes(model, metadata))


def runtime_graph(proto: onnx.ModelProto, tmp_path, name: str) -> collections.Counter:
    """The op types of ONNX Runtime's optimised graph (reorders: what the layout cost)."""
    options = session_options(1)
    options.optimized_model_filepath = str(tmp_path / f"{name}.onnx")
    ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    optimised = onnx.load(options.optimized_model_filepath)
    return collections.Counter(
        (node.op_type, _channels_last(node)) for node in optimised.graph.node
    )


def _channels_last(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "channels_last"), 0)


@pytest.mark.slow
def test_every_gate_meets_its_feature_map_at_the_same_shape(model):
    proto = exported(model)
    shapes = {
        value.name: [dim.dim_value or dim.dim_param for dim in value.type.tensor_type.shape.dim]
        for value in onnx.shape_inference.infer_shapes(proto).graph.value_info
    }
    gates = [node for node in proto.graph.node if node.name.endswith("/se/Mul")]
    assert len(gates) == 8  # V3-Large's SE blocks
    for gate in gates:
        assert shapes[gate.input[0]] == shapes[gate.input[1]]
        assert shapes[gate.input[0]][0] == "batch" and shapes[gate.input[0]][2] > 1
    assert not [node for node in proto.graph.node if node.op_type == "GlobalAveragePool"]


@pytest.mark.slow
def test_onnx_runtime_reorders_nothing_back_inside_the_network(model, tmp_path, monkeypatch):
    rewritten = runtime_graph(exported(model), tmp_path, "rewritten")
    monkeypatch.setattr(onnx_export, "keep_blocked_layout", lambda proto, size: None)
    plain = runtime_graph(exported(model), tmp_path, "plain")
    if not plain[("ReorderInput", 0)]:
        pytest.skip("this CPU's ONNX Runtime runs no blocked (NCHWc) layout")
    # left alone, each SE block reorders its feature map out of the blocked layout and back
    assert plain[("ReorderInput", 0)] >= 8 and plain[("ReorderOutput", 0)] >= 16
    # rewritten: the only reorders left are the heads' outputs, written channels-last
    assert rewritten[("ReorderInput", 0)] == 0 and rewritten[("ReorderOutput", 0)] == 0
    assert rewritten[("ReorderOutput", 1)] == plain[("ReorderOutput", 1)] == 12
