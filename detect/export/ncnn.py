"""Export a detector to NCNN with pnnx (PyTorch → NCNN, Tencent's converter): the network behind
its preprocessing (:class:`~detect.export.graph.RawHeads`: float32 RGB pixels of any size in,
bilinear resize to the model's side and [-1, 1] scaling inside, raw heads out), traced with
TorchScript and converted by pnnx (BatchNorm folded into the convolutions, h-swish as NCNN's
HardSwish), with fp32 or fp16 weight storage. The detect metadata (categories, the numpy
decoder's settings) travels beside the graph as json. Needs the ``ncnn`` extra.

Files, for ``output=model.ncnn.param``: ``model.ncnn.param`` (graph, text), ``model.ncnn.bin``
(weights), ``model.ncnn.json`` (metadata); fp16 beside them as ``model.ncnn.fp16.*``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

from detect.errors import ConfigError, ExportError, import_extra
from detect.export.graph import RawHeads
from detect.export.metadata import ExportMetadata
from detect.export.ncnn_runtime import EXTRA, NcnnFiles, metadata_path, weights_path
from detect.io import atomic_write
from detect.models import SSDLite

PRECISIONS = ("fp32", "fp16")  # weight storage in the .bin; NCNN int8 needs ncnn2int8 (C++ tools)
SECOND_SHAPE = (1, 3, 480, 640)  # a second input shape: pnnx then keeps height and width dynamic


def pnnx_executable() -> str:
    """The pnnx converter shipped by the ``pnnx`` wheel, or one error line naming the extra."""
    return import_extra("pnnx", "pnnx (the NCNN converter)", EXTRA).EXEC_PATH


def traced(model: SSDLite, path: Path) -> None:
    """``model``'s :class:`RawHeads` traced with TorchScript (pnnx's input) and saved at
    ``path``: float32 pixels (1, 3, size, size) in."""
    example = torch.zeros(1, 3, model.size, model.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation, the models' shape checks
        module = torch.jit.trace(RawHeads(model).eval(), (example,), check_trace=False)
        module.save(str(path))


def convert(model: SSDLite, precision: str = "fp32") -> tuple[bytes, bytes]:
    """The ``.param`` and ``.bin`` of ``model``'s network, weights stored as ``precision``."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"precision={precision} for format=ncnn: choose {' or '.join(PRECISIONS)} (NCNN's "
            "int8 needs its C++ tools ncnn2table/ncnn2int8, which the ncnn wheel does not ship)"
        )
    executable = pnnx_executable()
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "net.pt"
        traced(model, script)
        shape = f"[1,3,{model.size},{model.size}]f32"
        second = "[" + ",".join(str(side) for side in SECOND_SHAPE) + "]f32"
        param, weights = Path(folder) / "net.ncnn.param", Path(folder) / "net.ncnn.bin"
        command = [
            executable,
            str(script),
            f"inputshape={shape}",
            f"inputshape2={second}",
            f"fp16={int(precision == 'fp16')}",
            f"ncnnparam={param}",
            f"ncnnbin={weights}",
        ]
        done = subprocess.run(command, capture_output=True, text=True, cwd=folder, check=False)
        if done.returncode != 0 or not param.is_file() or not weights.is_file():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ExportError(f"pnnx could not convert the network ({tail[0]})")
        return param.read_bytes(), weights.read_bytes()


def export_ncnn(model: SSDLite, metadata: ExportMetadata, precision: str = "fp32") -> NcnnFiles:
    """The NCNN export of ``model`` in memory: graph, weights as ``precision``, metadata."""
    if metadata.outputs != "raw":
        raise ConfigError("NCNN exports hold the network alone: postprocess=false")
    param, weights = convert(model, precision)
    record = {"bytes": len(weights), "sha256": hashlib.sha256(weights).hexdigest()}
    stored = dataclasses.replace(metadata, precision=precision, weights=record)
    return NcnnFiles(param, weights, stored)


def write_ncnn(files: NcnnFiles, param: str | Path) -> Path:
    """Write the three files (``param``, its ``.bin`` and ``.json`` beside it) atomically."""
    atomic_write(weights_path(param), files.weights)
    atomic_write(metadata_path(param), files.metadata.to_json().encode("utf-8"))
    return atomic_write(param, files.param)
