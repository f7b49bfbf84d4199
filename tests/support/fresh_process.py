"""An exported file run in a fresh Python process, with its runtime and numpy alone: what a
deployment that never installs torch or onnxruntime sees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = """
import importlib, json, sys
import numpy as np
module, name, model, image, answer = sys.argv[1:]
detector = getattr(importlib.import_module(module), name)(model, threads=1)
[result] = detector([np.load(image)])
json.dump({"scores": result["scores"].tolist(), "names": list(result["names"]),
           "loaded": sorted(m for m in ("torch", "onnxruntime") if m in sys.modules)},
          open(answer, "w"))
"""


def detect_in_fresh_process(runtime: str, model: Path, image: np.ndarray, folder: Path) -> dict:
    """``runtime`` (``module:Class``, a deployed runtime) on one (3, H, W) uint8 ``image`` in
    a new interpreter: its ``scores``, ``names`` and which of torch and onnxruntime it
    ``loaded``. ``folder`` holds the files passed between the processes."""
    array, answer = folder / "image.npy", folder / "answer.json"
    np.save(array, image)
    module, name = runtime.split(":")
    command = [sys.executable, "-c", SCRIPT, module, name, str(model), str(array), str(answer)]
    subprocess.run(command, check=True, timeout=120)
    return json.loads(answer.read_text())
