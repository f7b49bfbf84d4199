"""Export a detector to LiteRT (``.tflite``), the format phones run: litert-torch converts the
network behind its preprocessing (:class:`~detect.export.graph.RawHeads`; the numpy decoder does
the rest), ai-edge-quantizer makes the fp16 and int8 variants, and the detect metadata goes into
the file (:mod:`detect.export.tflite`). Needs the ``litert`` extra."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from detect.errors import ConfigError, ExportError
from detect.export.graph import RawHeads
from detect.export.metadata import ExportMetadata
from detect.export.tflite import with_metadata
from detect.models import SSDLite

PRECISIONS = ("fp32", "fp16", "int8")
# fp16: weights stored as float16, computed in float32 (float casting); int8: weights int8 per
# channel, activations quantised on the fly (dynamic range): no calibration set needed
FP16_RECIPE = [
    {
        "regex": ".*",
        "operation": "*",
        "algorithm_key": "float_casting",
        "op_config": {
            "weight_tensor_config": {"num_bits": 16, "dtype": "FLOAT"},
            "compute_precision": "FLOAT",
            "explicit_dequantize": True,
        },
    }
]


def convert(model: SSDLite, example: Sequence[int] = (1, 3, 480, 640)) -> bytes:
    """The fp32 ``.tflite`` of ``model``'s network (uint8 (1, 3, H, W) in, raw heads out); the
    input resizes to any H, W at run time (the graph warps it to the model's size first)."""
    import litert_torch  # heavy (jax and more): loaded only when converting

    image = torch.zeros(tuple(example), dtype=torch.uint8)
    try:
        edge = litert_torch.convert(RawHeads(model).eval(), (image,))
    except Exception as error:  # the converter raises many types of its own
        raise ExportError(f"litert-torch could not convert the network ({error})") from None
    return bytes(edge.model_content())


def quantise(model: bytes, precision: str) -> bytes:
    """``model`` (fp32) as ``precision``: fp32 (unchanged), fp16 or int8 (see the recipes)."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision={precision}: choose one of {', '.join(PRECISIONS)}")
    if precision == "fp32":
        return model
    from ai_edge_quantizer import Quantizer, recipe

    quantizer = Quantizer(model, FP16_RECIPE if precision == "fp16" else recipe.dynamic_wi8_afp32())
    return bytes(quantizer.quantize().quantized_model)


def export_tflite(
    model: SSDLite,
    metadata: ExportMetadata,
    precision: str = "fp32",
    converted: bytes | None = None,
) -> bytes:
    """The ``.tflite`` file's bytes: converted, quantised as asked, metadata embedded.
    ``converted``: ``model``'s fp32 ``.tflite`` when one is at hand (variants share one
    conversion, the slow part)."""
    if metadata.outputs != "raw":
        raise ConfigError("LiteRT exports hold the network alone: postprocess=false")
    data = quantise(convert(model) if converted is None else converted, precision)
    return with_metadata(data, ExportMetadata(**{**metadata.__dict__, "precision": precision}))
