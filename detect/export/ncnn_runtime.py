"""Run an NCNN export with the ``ncnn`` Python package and numpy only — no torch, no
onnxruntime: Tencent's runtime, the one NanoDet and the Raspberry Pi community ship on Android
and ARM boards, here on the CPU (Vulkan off).

The files (``detect export format=ncnn``, :mod:`detect.export.ncnn`): ``<name>.param`` (the
graph, text), ``<name>.bin`` (weights, fp32 or fp16 storage) and ``<name>.json`` (the detect
metadata: categories, input size, the numpy decoder's settings). The graph takes float32 RGB
pixels (0–255, any size, batch 1), resizes them bilinearly to the model's side and scales them to
[-1, 1] itself, and answers the raw heads; :mod:`detect.export.decode` does the rest.

    detector = NcnnDetector("model.ncnn.param", threads=2)
    [result] = detector([image_chw_uint8])  # result["boxes"], ["scores"], ["labels"], ["names"]
"""

from __future__ import annotations

import hashlib
import math
import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np

from detect.errors import ExportError, import_extra
from detect.export.admission import (
    MAX_LAYERS,
    MAX_PARAMETER,
    MAX_SCALE,
    NCNN_LAYERS,
    check_ops,
    check_side,
    refuse,
)
from detect.export.deployed import DeployedDetector
from detect.export.metadata import ExportMetadata

EXTRA = "ncnn"  # pyproject's extra: ncnn (runtime) and pnnx (converter)
INPUT_BLOB = "in0"  # pnnx's names: the pixels in; the class logits and box codes out
OUTPUT_BLOBS = ("out0", "out1")
TRIAL_SECONDS = 60.0  # a graph's trial load and first image, in a child process


def require_ncnn() -> ModuleType:
    """The ``ncnn`` module, or one error line naming the extra."""
    return import_extra("ncnn", "NCNN", EXTRA)


@dataclass(frozen=True)
class NcnnFiles:
    """An NCNN export in memory: the ``.param`` graph, its ``.bin`` weights, the metadata."""

    param: bytes
    weights: bytes
    metadata: ExportMetadata

    def __len__(self) -> int:
        return len(self.param) + len(self.weights)


def weights_path(param: str | os.PathLike[str]) -> Path:
    """The ``.bin`` beside a ``.param``."""
    return Path(param).with_suffix(".bin")


def metadata_path(param: str | os.PathLike[str]) -> Path:
    """The detect metadata (``.json``) beside a ``.param``."""
    return Path(param).with_suffix(".json")


def read_files(param: str | os.PathLike[str]) -> NcnnFiles:
    """The three files of an export, read; a missing one is an :class:`ExportError` naming it."""
    paths = (Path(param), weights_path(param), metadata_path(param))
    for path in paths:
        if not path.is_file():
            raise ExportError(
                f"{path} not found: an NCNN export is {paths[0].name} with "
                f"{paths[1].name} and {paths[2].name} beside it; write one with "
                "detect export format=ncnn"
            )
    metadata = ExportMetadata.from_json(paths[2].read_bytes(), str(paths[2]))
    return NcnnFiles(paths[0].read_bytes(), paths[1].read_bytes(), metadata)


def check_weights(files: NcnnFiles, source: str) -> None:
    """The ``.bin`` is the one this export wrote: its length and SHA-256 are the metadata's
    (a ``.bin`` of another export, or shifted by a few bytes, would run and give other
    detections)."""
    record = files.metadata.weights
    if record is None:
        raise ExportError(
            f"{source}: its metadata does not record its .bin (an export older than this check); "
            "export it again with detect export format=ncnn"
        )
    digest = hashlib.sha256(files.weights).hexdigest()
    if len(files.weights) != record["bytes"] or digest != record["sha256"]:
        raise ExportError(
            f"{source}: its .bin ({len(files.weights)} bytes, sha256 {digest[:12]}…) is not the "
            f"one its export wrote ({record['bytes']} bytes, {record['sha256'][:12]}…); use the "
            ".param, .bin and .json of one export"
        )


def check_param(param: bytes, source: str) -> None:
    """The ``.param`` graph is one pnnx writes for our network: NCNN's magic number, a
    bounded layer count, layer types of the allow-list, every stored number bounded, an
    ``Interp``'s output side at most the model's largest and its scales small. NCNN itself
    allocates whatever a layer asks (an Interp of 60000² ends in SIGSEGV), so this is read
    before NCNN sees the file."""
    try:
        lines = param.decode("ascii").splitlines()
        magic, (layers, blobs) = lines[0].strip(), map(int, lines[1].split())
    except (UnicodeDecodeError, IndexError, ValueError):
        raise ExportError(f"{source} is not an NCNN .param (its header is unreadable)") from None
    if magic != "7767517" or not 0 < layers <= MAX_LAYERS or not 0 < blobs <= MAX_LAYERS:
        raise ExportError(f"{source} is not an NCNN .param of ours (header {magic} {layers})")
    body = [line.split() for line in lines[2:] if line.strip()]
    if len(body) != layers:
        raise ExportError(f"{source}: its header says {layers} layers but it holds {len(body)}")
    check_ops((fields[0] for fields in body), NCNN_LAYERS, source, "NCNN")
    for fields in body:
        check_layer(fields, source)


# the few parameters whose negative values mean something (pnnx writes none for our networks,
# but other backbones' may): "infer this dimension" in Reshape, "to the end" in Slice and
# Crop, SAME padding in convolutions and pooling. NCNN trusts every other value: a padding of
# -1 crashes it (found by the fuzz campaign).
SAME_PADDING = {-233.0, -234.0}
NEGATIVE_ALLOWED = {
    **{
        kind: {key: SAME_PADDING for key in (4, 14, 15, 16)}
        for kind in ("Convolution", "ConvolutionDepthWise", "Pooling")
    },
    "Reshape": {key: {-1.0} for key in (0, 1, 2, 11)},
    "Slice": {1: {-233.0}, 2: {-233.0}},
    "Crop": {key: {-233.0} for key in (9, 10, 11)},
    "Flatten": {},
    "Concat": {0: {-1.0}},
    "Split": {},
}
# kernel, dilation and stride of convolutions and pooling: 1 to MAX_WINDOW when given
POSITIVE = {
    kind: (1, 11, 2, 12, 3, 13) for kind in ("Convolution", "ConvolutionDepthWise", "Pooling")
}
MAX_WINDOW = 64


def check_layer(fields: list[str], source: str) -> None:
    """One ``.param`` line: ``type name bottoms tops <blob names> key=value…``."""
    kind = fields[0]
    try:
        bottoms, tops = int(fields[2]), int(fields[3])
        pairs = fields[4 + bottoms + tops :]
        values = {}
        for pair in pairs:
            key, _, text = pair.partition("=")
            numbers = [float(part) for part in text.split(",")]
            if not all(math.isfinite(n) and abs(n) <= MAX_PARAMETER for n in numbers):
                raise ValueError(pair)
            values[int(key)] = numbers
    except (IndexError, ValueError) as error:
        raise refuse(source, f"its {kind} layer {fields[1:2]} stores {error}") from None
    negative = {k: v for k, v in values.items() if k >= 0 and min(v) < 0}
    for key, numbers in negative.items():
        allowed = NEGATIVE_ALLOWED.get(kind, {}).get(key, set())
        if not set(numbers) <= allowed:
            raise refuse(source, f"its {kind} layer {fields[1]} stores {key}={min(numbers):g}")
    for key in POSITIVE.get(kind, ()):
        if key in values and not 1 <= values[key][-1] <= MAX_WINDOW:
            raise refuse(source, f"its {kind} layer {fields[1]} stores {key}={values[key][-1]:g}")
    if kind == "Interp":
        for key, what in ((3, "output height"), (4, "output width")):
            side = values.get(key, [0])[-1]
            if side:
                check_side(side, source, f"an Interp layer's {what}")
        for key in (1, 2):  # height and width scale factors
            scale = values.get(key, [1.0])[-1]
            if not 0 < scale <= MAX_SCALE:
                raise refuse(source, f"an Interp layer scales by {scale:g}")


def in_child(action: Callable[[], object], seconds: float = TRIAL_SECONDS) -> str | None:
    """Run ``action`` in a forked child: how it died ("crashed (SIGSEGV)", "did not answer in
    60 s"), or None when it returned or raised (the parent then runs it and raises the same
    error itself). Where there is no fork (Windows), None without trying."""
    if not hasattr(os, "fork"):
        return None
    child = os.fork()
    if child == 0:  # pragma: no cover - the child's exit status is what is tested
        try:
            action()
            code = 0
        except BaseException:
            code = 1
        os._exit(code)
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(child, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            return f"did not answer in {seconds:g} s"
        time.sleep(0.005)
    if os.WIFSIGNALED(status):
        return f"crashed ({signal.Signals(os.WTERMSIG(status)).name})"
    return None


class NcnnDetector(DeployedDetector):
    """An NCNN export (a ``.param`` path, or :class:`NcnnFiles`) on NCNN's CPU path, Vulkan
    off, ``threads`` threads (None: one per core). An fp32 file runs in fp32 throughout (fp16
    storage and arithmetic off: the same numbers as PyTorch's to float error); an fp16 file
    keeps NCNN's defaults (fp16 storage, and fp16 arithmetic where the CPU has it: ARMv8.2)."""

    def __init__(self, model: str | os.PathLike[str] | NcnnFiles, threads: int | None = None):
        ncnn = require_ncnn()
        source = "the model" if isinstance(model, NcnnFiles) else str(model)
        files = model if isinstance(model, NcnnFiles) else read_files(model)
        self.metadata = files.metadata
        self.check(source)
        if self.metadata.outputs != "raw":
            raise ExportError(f"{source}: NCNN exports hold the raw heads; export it again")
        check_weights(files, source)
        check_param(files.param, source)
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.ncnn = ncnn
        # NCNN trusts a graph's geometry: a padding edited to disagree with the next layer
        # crashes the process (SIGSEGV), so the file is first loaded and tried in a child
        crash = in_child(lambda: self.open(files, 1, source))
        if crash:
            raise ExportError(f"{source}: NCNN {crash} on this graph; refused (export it again)")
        self.open(files, threads, source)

    def open(self, files: NcnnFiles, threads: int | None, source: str) -> None:
        """The net loaded from ``files`` and tried on one image (:meth:`probe`)."""
        ncnn = self.ncnn
        self.net = ncnn.Net()
        options = self.net.opt
        options.use_vulkan_compute = False
        options.num_threads = threads or os.cpu_count() or 1
        fp16 = self.metadata.precision == "fp16"
        options.use_fp16_storage = options.use_fp16_packed = fp16
        options.use_fp16_arithmetic = fp16
        with tempfile.TemporaryDirectory() as folder:  # ncnn reads its files from disk
            param, weights = Path(folder) / "model.param", Path(folder) / "model.bin"
            param.write_bytes(files.param)
            weights.write_bytes(files.weights)
            if self.net.load_param(str(param)) != 0 or self.net.load_model(str(weights)) != 0:
                raise ExportError(f"{source} is not a loadable NCNN model")
        missing = {INPUT_BLOB, *OUTPUT_BLOBS} - {*self.net.input_names(), *self.net.output_names()}
        if missing:
            raise ExportError(f"{source}: its graph lacks the blobs {sorted(missing)}")
        self.probe()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        logits, codes = [], []
        for image in batch:  # NCNN runs one image at a time
            pixels = np.ascontiguousarray(image, dtype=np.float32)
            extractor = self.net.create_extractor()
            # a Mat over numpy's memory does not own it, and the graph's in-place layers
            # then crash (seen with a 96-px model); its clone is NCNN's own
            extractor.input(INPUT_BLOB, self.ncnn.Mat(pixels).clone())
            _, class_logits = extractor.extract(OUTPUT_BLOBS[0])
            _, box_codes = extractor.extract(OUTPUT_BLOBS[1])
            logits.append(np.array(class_logits))
            codes.append(np.array(box_codes))
        return [np.stack(logits), np.stack(codes)]
