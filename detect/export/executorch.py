"""Export a detector to ExecuTorch (``.pte``), PyTorch's own on-device runtime (Android, iOS,
Linux; its Python bindings ship in the ``executorch`` wheel): the network, captured with
``torch.export`` and lowered with every operator XNNPACK takes delegated to XNNPACK, fp32. The
graph takes the model's float (1, 3, S, S) input in [-1, 1] (the runtime resizes and scales as
our preprocessing does, :func:`~detect.export.postprocessed.model_input`) and answers the raw
heads, which the numpy decoder finishes; the detect metadata travels beside it as json. Needs the
``executorch`` extra.

Files, for ``output=model.pte``: ``model.pte`` (program) and ``model.json`` (metadata).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import Tensor, nn

from detect.errors import ConfigError, ExportError, import_extra
from detect.export.executorch_runtime import EXTRA, ExecuTorchFiles, metadata_path
from detect.export.graph import portable
from detect.export.metadata import ExportMetadata
from detect.io import atomic_write
from detect.models import SSDLite

PRECISIONS = ("fp32",)


class Network(nn.Module):
    """float (1, 3, S, S) in [-1, 1] → ``cls_logits`` (1, A, C), ``bbox_regression`` (1, A, 4)."""

    def __init__(self, model: SSDLite) -> None:
        super().__init__()
        self.model = portable(model.eval())

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        outputs = self.model(images)
        return outputs["cls_logits"], outputs["bbox_regression"]


def convert(model: SSDLite) -> bytes:
    """The ``.pte`` program of ``model``'s network, XNNPACK-delegated."""
    import_extra("executorch", "ExecuTorch", EXTRA)
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    example = torch.zeros(1, 3, model.size, model.size)
    try:
        with torch.no_grad():
            program = torch.export.export(Network(model).eval(), (example,))
        lowered = to_edge_transform_and_lower(program, partitioner=[XnnpackPartitioner()])
        return bytes(lowered.to_executorch().buffer)
    except Exception as error:  # torch.export and exir raise many types of their own
        raise ExportError(f"ExecuTorch could not lower the network ({error})") from None


def export_executorch(
    model: SSDLite, metadata: ExportMetadata, precision: str = "fp32"
) -> ExecuTorchFiles:
    """The ExecuTorch export of ``model`` in memory: the program and its metadata."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision} for format=executorch: fp32 only")
    if metadata.outputs != "raw":
        raise ConfigError("ExecuTorch exports hold the network alone: postprocess=false")
    return ExecuTorchFiles(convert(model), dataclasses.replace(metadata, precision=precision))


def write_executorch(files: ExecuTorchFiles, path: str | Path) -> Path:
    """Write the ``.json`` metadata, then the ``.pte`` (each atomically)."""
    atomic_write(metadata_path(path), files.metadata.to_json().encode("utf-8"))
    return atomic_write(path, files.program)
