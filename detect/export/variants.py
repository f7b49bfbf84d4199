"""A detector's export files: the format and precisions asked, checked before anything is read;
each variant's bytes, written, with its runtime loaded from the same bytes; and each checked
against PyTorch on the spot (fp32 must agree; a quantised variant is told how far it is)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from detect.errors import ConfigError, ExportError
from detect.export.deployed import DeployedDetector
from detect.export.formats import EXPORT_FORMATS
from detect.export.metadata import ExportMetadata
from detect.export.onnx import OPSET, compare_backends, export_bytes, write_model
from detect.export.quantize import quantize_int8
from detect.export.runtime import OnnxDetector
from detect.models import SSDLite

log = logging.getLogger(__name__)

# the single-file formats (web, a folder, is planned by detect.cli.export_web)
FORMATS = {name: suffix for name, suffix in EXPORT_FORMATS.items() if name != "web"}
ONNX_PRECISIONS = ("fp32", "int8")  # LiteRT's (fp32, fp16, int8) are checked by its extra


@dataclass(frozen=True)
class ExportPlan:
    """What an export writes: ``format``'s ``precisions``, in order, each the whole pipeline
    (``postprocess``) or the network alone (raw heads, for the numpy decoder)."""

    format: str
    precisions: tuple[str, ...]
    postprocess: bool

    @property
    def suffix(self) -> str:
        return FORMATS[self.format]

    @property
    def outputs(self) -> str:
        """The metadata's ``outputs`` kind."""
        return "detections" if self.postprocess else "raw"

    @property
    def calibrated(self) -> bool:
        """ONNX and OpenVINO int8 are quantised statically: they need calibration images."""
        return self.format in ("onnx", "openvino") and "int8" in self.precisions


def plan_export(
    format: str, precisions: Sequence[str] = ("fp32",), postprocess: bool | None = None
) -> ExportPlan:
    """The export asked for, refused by name when it cannot be written. ``postprocess=None``:
    the whole pipeline for onnx, the network alone for tflite (LiteRT runs no NMS) and openvino
    (see :mod:`detect.export.openvino`)."""
    if format not in FORMATS:
        raise ConfigError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if format == "openvino" and postprocess:
        raise ConfigError(
            "format=openvino holds the network alone (OpenVINO's CPU plugin refuses the whole "
            "graph's top-k with K = 0): postprocess=false, the numpy decoder does the rest"
        )
    if format == "mediapipe":  # the op ends the graph; MediaPipe takes fp32 (or its own quantised)
        if postprocess is False or list(precisions) != ["fp32"]:
            raise ConfigError(
                "format=mediapipe is one fp32 file whose graph ends in the detection op "
                "MediaPipe's ObjectDetector reads: drop postprocess and precisions"
            )
        return ExportPlan(format, ("fp32",), True)
    if format == "ncnn":  # the network alone, as pnnx converts it; the numpy decoder does the rest
        from detect.export.ncnn import PRECISIONS as NCNN_PRECISIONS

        wrong = [precision for precision in precisions if precision not in NCNN_PRECISIONS]
        if postprocess or wrong:
            raise ConfigError(
                "format=ncnn holds the network alone (postprocess=false), its weights stored as "
                f"{' or '.join(NCNN_PRECISIONS)}" + (f", not {wrong[0]!r}" if wrong else "")
            )
        return ExportPlan(format, tuple(precisions), False)
    if format == "executorch":  # the network alone, fp32; the numpy decoder does the rest
        if postprocess or list(precisions) != ["fp32"]:
            raise ConfigError(
                "format=executorch holds the network alone (postprocess=false), fp32 (its "
                "XNNPACK int8 needs a calibrated PT2E quantiser, not offered yet)"
            )
        return ExportPlan(format, ("fp32",), False)
    tflite = format == "tflite"
    if format == "openvino":
        postprocess = False
    postprocess = (not tflite) if postprocess is None else postprocess
    if tflite and postprocess:
        raise ConfigError(
            "format=tflite holds the network alone (LiteRT's delegates run no NMS): "
            "postprocess=false, the numpy decoder does the rest"
        )
    other = [precision for precision in precisions if precision not in ONNX_PRECISIONS]
    if not tflite and other:
        raise ConfigError(
            f"precision {other[0]!r} for format={format}: choose {' or '.join(ONNX_PRECISIONS)} "
            "(fp16 is LiteRT's: format=tflite)"
        )
    return ExportPlan(format, tuple(precisions), postprocess)


def variant_path(path: Path, precision: str) -> Path:
    """fp32 at ``path``, another precision beside it: ``<stem>.<precision><suffix>``."""
    return path if precision == "fp32" else path.with_name(f"{path.stem}.{precision}{path.suffix}")


def export_variant(
    model: SSDLite,
    metadata: ExportMetadata,
    format: str,
    precision: str,
    *,
    calibration: Sequence[Tensor] = (),
    method: str = "minmax",
    opset: int = OPSET,
    threads: int | None = None,
    converted: bytes | None = None,
) -> tuple[bytes, DeployedDetector]:
    """One variant's bytes, and its runtime loaded from them (``threads``: intra-op threads,
    None: one per core). ONNX int8 is calibrated on ``calibration`` with ``method``; a LiteRT
    variant quantises ``converted``, the fp32 file, when given (one conversion for all)."""
    if format == "tflite":
        from detect.export.litert import export_tflite  # the litert extra
        from detect.export.litert_runtime import LiteRTDetector

        data = export_tflite(model, metadata, precision, converted=converted)
        return data, LiteRTDetector(data, threads)
    if format == "mediapipe":
        from detect.export.litert_runtime import LiteRTDetector  # the litert extra
        from detect.export.mediapipe import export_mediapipe  # and the mediapipe one

        data = export_mediapipe(model, metadata)
        return data, LiteRTDetector(data, threads)  # our runtime reads the op's outputs
    if format == "openvino":
        from detect.export.openvino import export_ir  # the openvino extra
        from detect.export.openvino_runtime import OpenVINODetector

        files = export_ir(model, metadata, precision, calibration, opset)
        return files, OpenVINODetector(files, threads)
    if format == "ncnn":
        from detect.export.ncnn import export_ncnn  # the ncnn extra
        from detect.export.ncnn_runtime import NcnnDetector

        ncnn_files = export_ncnn(model, metadata, precision)
        return ncnn_files, NcnnDetector(ncnn_files, threads)
    if format == "executorch":
        from detect.export.executorch import export_executorch  # the executorch extra
        from detect.export.executorch_runtime import ExecuTorchDetector

        program = export_executorch(model, metadata, precision)
        return program, ExecuTorchDetector(program, threads)
    data = export_bytes(model, metadata, opset)
    if precision == "int8":
        data = quantize_int8(data, [image.numpy() for image in calibration], method)
    return data, OnnxDetector(data, threads)


def parity(
    detector: DeployedDetector, model: SSDLite, images: Sequence[Tensor], precision: str
) -> str:
    """The export's detections against PyTorch's on ``images``, told in one line: an fp32 export
    that disagrees is an :class:`ExportError`; a quantised one is not expected to agree."""
    report = compare_backends(detector, model, images)
    if precision != "fp32":
        return f"{precision} against PyTorch (not expected to be equal): {report}"
    if not report.equal:
        raise ExportError(f"the exported model disagrees with PyTorch: {report}")
    return f"checked against PyTorch: {report}"


@dataclass(frozen=True)
class Variant:
    """One file written: its precision, where, and its runtime (loaded from the bytes written)."""

    precision: str
    path: Path
    detector: DeployedDetector


def write_variants(
    model: SSDLite,
    metadata: ExportMetadata,
    plan: ExportPlan,
    output: Path,
    *,
    check_images: Sequence[Tensor] = (),
    calibration: Sequence[Tensor] = (),
    method: str = "minmax",
    opset: int = OPSET,
    threads: int | None = None,
    say: Callable[[str], None] = log.info,
) -> list[Variant]:
    """Write ``plan``'s variants (fp32 at ``output``, the others beside it: see
    :func:`variant_path`), atomically, each checked against PyTorch on ``check_images`` (none:
    no check) before it is written, so an fp32 file that disagrees is never on disk; ``say``
    gets a line per file and per check."""
    variants: list[Variant] = []
    fp32: bytes | None = None  # a LiteRT fp32 file made here: the other variants quantise it
    for precision in plan.precisions:
        data, detector = export_variant(
            model,
            metadata,
            plan.format,
            precision,
            calibration=calibration,
            method=method,
            opset=opset,
            threads=threads,
            converted=fp32,
        )
        if plan.format == "tflite" and precision == "fp32":
            fp32 = data
        # checked before it is written (the runtime reads the same bytes): a refused export
        # leaves no file under the name asked for
        checked = parity(detector, model, check_images, precision) if check_images else None
        if plan.format == "openvino":
            from detect.export.openvino import write_ir

            path = write_ir(data, variant_path(output, precision))
        elif plan.format == "ncnn":
            from detect.export.ncnn import write_ncnn

            path = write_ncnn(data, variant_path(output, precision))
        elif plan.format == "executorch":
            from detect.export.executorch import write_executorch

            path = write_executorch(data, variant_path(output, precision))
        else:
            path = write_model(data, variant_path(output, precision))
        variants.append(Variant(precision, path, detector))
        size = len(data) / 1e6
        say(f"wrote {path} ({size:.1f} MB, {plan.format}, {precision}, {metadata.outputs})")
        if checked:
            say(checked)
    return variants
