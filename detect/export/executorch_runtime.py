"""Run an ExecuTorch export (``.pte`` + ``.json`` beside it) with ExecuTorch's own runtime
(``executorch.runtime``: the program's XNNPACK delegate on the CPU) and the numpy decoder. Each
image is resized and scaled to the program's fixed input as our preprocessing does.

    detector = ExecuTorchDetector("model.pte")
    [result] = detector([image_chw_uint8])  # result["boxes"], ["scores"], ["labels"], ["names"]
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detect.errors import ExportError, import_extra
from detect.export.deployed import DeployedDetector
from detect.export.metadata import ExportMetadata
from detect.export.postprocessed import model_input

EXTRA = "executorch"  # pyproject's extra


@dataclass(frozen=True)
class ExecuTorchFiles:
    """An ExecuTorch export in memory: the ``.pte`` program and the detect metadata."""

    program: bytes
    metadata: ExportMetadata

    def __len__(self) -> int:
        return len(self.program)


def metadata_path(program: str | os.PathLike[str]) -> Path:
    """The detect metadata (``.json``) beside a ``.pte``."""
    return Path(program).with_suffix(".json")


class ExecuTorchDetector(DeployedDetector):
    """An ExecuTorch export (a file, or :class:`ExecuTorchFiles` in memory) on ExecuTorch's
    runtime. ``threads`` is ExecuTorch's to choose (its XNNPACK threadpool)."""

    def __init__(self, model: str | os.PathLike[str] | ExecuTorchFiles, threads=None) -> None:
        runtime = import_extra("executorch.runtime", "ExecuTorch", EXTRA)
        if isinstance(model, ExecuTorchFiles):
            source, program, self.metadata = "the model", model.program, model.metadata
        else:
            source = str(model)
            meta = metadata_path(model)
            if not Path(model).is_file() or not meta.is_file():
                raise ExportError(
                    f"ExecuTorch export not found: {model} with {meta.name} beside it; write one "
                    "with detect export format=executorch"
                )
            program = Path(model).read_bytes()
            self.metadata = ExportMetadata.from_json(meta.read_text(encoding="utf-8"), source)
        self.check(source)
        if self.metadata.outputs != "raw":
            raise ExportError(f"{source}: an ExecuTorch export holds the raw heads")
        try:
            loaded = runtime.Runtime.get().load_program(program)
            self.method = loaded.load_method("forward")
        except Exception as error:  # the runtime raises its own untyped errors
            raise ExportError(f"{source} is not a loadable ExecuTorch program ({error})") from None
        self.program = loaded  # the method's program stays alive with it

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        import torch  # the runtime's bindings take torch tensors

        logits, codes = [], []
        for image in batch:
            pixels = model_input(image, self.metadata.size).transpose(0, 3, 1, 2)
            outputs = self.method.execute([torch.from_numpy(np.ascontiguousarray(pixels))])
            logits.append(outputs[0][0].numpy())
            codes.append(outputs[1][0].numpy())
        return [np.stack(logits), np.stack(codes)]
