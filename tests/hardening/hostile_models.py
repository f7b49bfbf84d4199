"""Hostile model files for issue 38's cases, built here from real parts: ONNX graphs made with
onnx.helper (a Loop of 1e15 turns, a custom op, a graph that asks 4e14 bytes, one answering
NaN boxes and labels of no category) carrying our metadata, and edits of a real NCNN export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from detect.export.metadata import ExportMetadata
from detect.export.proto import set_metadata

METADATA = ExportMetadata((1, 2, 3), ("circle", "square", "triangle"), 96, {}, {}, "fp32")


def constant(name: str, value: np.ndarray) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name))


def pipeline_graph(nodes: list[onnx.NodeProto], metadata_json: str | None = None) -> bytes:
    """A graph with our whole pipeline's input and outputs, ``nodes`` computing them."""
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("images", TensorProto.UINT8, ["n", 3, "h", "w"])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["d", 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["d"]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, ["d"]),
            helper.make_tensor_value_info("batch_index", TensorProto.INT64, ["d"]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    set_metadata(model, METADATA)
    if metadata_json is not None:
        for entry in model.metadata_props:
            if entry.key == "detect":
                entry.value = metadata_json
    return model.SerializeToString()


def answering(boxes, scores, labels) -> list[onnx.NodeProto]:
    """Nodes answering fixed detections for image 0."""
    count = len(scores)
    return [
        constant("boxes", np.asarray(boxes, np.float32).reshape(count, 4)),
        constant("scores", np.asarray(scores, np.float32)),
        constant("labels", np.asarray(labels, np.int64)),
        constant("batch_index", np.zeros(count, np.int64)),
    ]


def fine_graph(metadata_json: str | None = None) -> bytes:
    return pipeline_graph(answering([[0, 0, 10, 10]], [0.9], [1]), metadata_json)


def loop_graph(turns: int = 10**15) -> bytes:
    """A Loop of ``turns`` iterations (each adds 1): before, it ran forever at 100 % CPU and
    ignored SIGINT and SIGTERM."""
    body = helper.make_graph(
        [
            helper.make_node("Add", ["carried", "one"], ["carried_out"]),
            helper.make_node("Identity", ["cond"], ["cond_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond", TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("carried_out", TensorProto.FLOAT, [1]),
        ],
        [numpy_helper.from_array(np.ones(1, np.float32), "one")],
    )
    nodes = [
        constant("turns", np.array(turns, np.int64)),
        constant("go", np.array(True)),
        constant("start", np.zeros(1, np.float32)),
        helper.make_node("Loop", ["turns", "go", "start"], ["spun"], body=body),
        *answering([[0, 0, 10, 10]], [0.9], [1])[1:],
        helper.make_node("Concat", ["spun", "spun", "spun", "spun"], ["flat"], axis=0),
        constant("shape", np.array([1, 4], np.int64)),
        helper.make_node("Reshape", ["flat", "shape"], ["boxes"]),
    ]
    return pipeline_graph(nodes)


def custom_op_graph() -> bytes:
    nodes = answering([[0, 0, 10, 10]], [0.9], [1])
    nodes[0] = helper.make_node("Evil", [], ["boxes"], domain="com.example")
    return pipeline_graph(nodes)


def allocating_graph(count: int = 27_500_000_000_000) -> bytes:
    """Boxes of ``count`` × 4 floats (4.4e14 bytes) made at run time by ConstantOfShape."""
    nodes = answering([[0, 0, 10, 10]], [0.9], [1])
    nodes[0] = helper.make_node("ConstantOfShape", ["size"], ["boxes"])
    return pipeline_graph([constant("size", np.array([count, 4], np.int64)), *nodes])


def nonfinite_graph() -> bytes:
    """Four detections: NaN box, Inf box, label 99, label −5 -- and one good one."""
    boxes = [[np.nan, 0, 5, 5], [0, 0, np.inf, 5], [0, 0, 5, 5], [0, 0, 5, 5], [1, 2, 30, 40]]
    return pipeline_graph(answering(boxes, [0.9, 0.8, 0.7, 0.6, 0.5], [1, 2, 99, -5, 3]))


def metadata_cases(good: dict) -> dict[str, str]:
    """The issue's stored-metadata cases, each a JSON text made from ``good`` (a network-only
    export's metadata, decoder included)."""

    def edited(change) -> str:
        raw = json.loads(json.dumps(good))
        change(raw)
        return json.dumps(raw)

    deep = "[" * 995 + "]" * 995
    return {
        "fewer names than ids": edited(lambda r: r["categories"]["names"].pop()),
        "ids of other types": edited(lambda r: r["categories"].update(ids=["a", None, 1.5])),
        "names that are not strings": edited(lambda r: r["categories"].update(names=[1, 2, 3])),
        "a name holding a line break": edited(
            lambda r: r["categories"]["names"].__setitem__(0, "cir\ncle")
        ),
        "nested 995 levels": json.dumps(good)[:-1] + ', "run_config": {"deep": ' + deep + "}}",
        "decoder weights [1, 2]": edited(lambda r: r["decoder"].update(weights=[1, 2])),
        "detections_per_image -1": edited(lambda r: r["decoder"].update(detections_per_image=-1)),
        "size 0": edited(lambda r: r.update(size=0)),
        "outputs 'evil'": edited(lambda r: r.update(outputs="evil")),
        "not json": "{'categories': ",
        "NaN anchors": edited(lambda r: r["decoder"]["anchors"][0].__setitem__(0, float("nan"))),
    }


def shifted(data: bytes, by: int = 4) -> bytes:
    return data[by:] + bytes(by)


def with_interp(param: bytes, side: int) -> bytes:
    """The ``.param`` with its Interp's output side set to ``side`` × ``side``."""
    lines = param.decode().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Interp"):
            fields = [
                f"3={side}" if f.startswith("3=") else f"4={side}" if f.startswith("4=") else f
                for f in line.split()
            ]
            lines[index] = " ".join(fields)
    return ("\n".join(lines) + "\n").encode()


def write_ncnn_copy(source: Path, folder: Path, param=None, weights=None, metadata=None) -> Path:
    """A copy of the NCNN export at ``source`` (``.param``) in ``folder``, with any of its
    three files replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "model.param"
    target.write_bytes(param if param is not None else source.read_bytes())
    target.with_suffix(".bin").write_bytes(
        weights if weights is not None else source.with_suffix(".bin").read_bytes()
    )
    text = metadata if metadata is not None else source.with_suffix(".json").read_text()
    target.with_suffix(".json").write_text(text)
    return target
