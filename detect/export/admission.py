"""Only graphs our exporters could have written are run: what each runtime's loader checks
before the first image (op types per format, the input and outputs, parameter bounds), and
the one line a refusal or a runtime's own failure becomes.

The allow-lists hold what ``detect export`` emits for every backbone (MobileNet V1/V2/V3) and
precision, and the handful of ops their converters may use for the same layers. Control flow
(ONNX ``Loop``/``Scan``/``If``: a trip count of 1e15 runs forever and ignores SIGINT), custom
ops and custom domains are never ours, so a file holding them is refused unrun. No runtime is
imported here: each loader lists its graph's ops and passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable

from detect.errors import ExportError
from detect.stored import MAX_SIZE

MAX_IMAGE_SIDE = 16_384  # px: a graph input fixed larger than this is not a detector's
MAX_PARAMETER = 1 << 28  # any integer an NCNN layer stores (a 4096² 3×3 conv: 1.5e8 weights)
MAX_SCALE = 16.0  # an NCNN Interp's scale factor (ours resizes to a fixed side instead)
MAX_LAYERS = 100_000

ONNX_OPS = frozenset(
    # the whole pipeline (pre- and postprocessing, NMS) and the network, V1/V2/V3, fp32 and
    # ONNX Runtime's static int8 (QDQ)
    [
        "Abs",
        "Add",
        "And",
        "ArgMax",
        "AveragePool",
        "BatchNormalization",
        "Cast",
        "Ceil",
        "Clip",
        "Concat",
        "Constant",
        "ConstantOfShape",
        "Conv",
        "DequantizeLinear",
        "Div",
        "Equal",
        "Exp",
        "Expand",
        "Flatten",
        "Floor",
        "Gather",
        "GatherElements",
        "GatherND",
        "Gemm",
        "GlobalAveragePool",
        "Greater",
        "GreaterOrEqual",
        "HardSigmoid",
        "HardSwish",
        "Identity",
        "Less",
        "LessOrEqual",
        "Log",
        "MatMul",
        "Max",
        "MaxPool",
        "Min",
        "Mul",
        "Neg",
        "NonMaxSuppression",
        "NonZero",
        "Not",
        "Or",
        "Pad",
        "Pow",
        "QuantizeLinear",
        "Range",
        "Reciprocal",
        "ReduceMax",
        "ReduceMean",
        "ReduceMin",
        "ReduceSum",
        "Relu",
        "Reshape",
        "Resize",
        "Round",
        "ScatterElements",
        "ScatterND",
        "Shape",
        "Sigmoid",
        "Slice",
        "Softmax",
        "Split",
        "Sqrt",
        "Squeeze",
        "Sub",
        "Tile",
        "TopK",
        "Transpose",
        "Unsqueeze",
        "Where",
    ]
)
ONNX_DOMAINS = {"": ONNX_OPS, "ai.onnx": ONNX_OPS}

NCNN_LAYERS = frozenset(
    [
        "Input",
        "Convolution",
        "ConvolutionDepthWise",
        "BinaryOp",
        "Concat",
        "Flatten",
        "HardSigmoid",
        "HardSwish",
        "InnerProduct",
        "Interp",
        "Permute",
        "Pooling",
        "Reshape",
        "Split",
        "ReLU",
        "Clip",
        "Sigmoid",
        "Eltwise",
        "Padding",
        "Crop",
        "Slice",
        "Softmax",
        "UnaryOp",
        "Swish",
        "Noop",
        "MemoryData",
        "ExpandDims",
        "Squeeze",
        "BatchNorm",
        "Scale",
        "Reduction",  # the portable head's log-sum-exp over the folded classes
    ]
)

OPENVINO_OPS = frozenset(
    [
        "Parameter",
        "Result",
        "Constant",
        "Convert",
        "Convolution",
        "GroupConvolution",
        "Add",
        "Subtract",
        "Multiply",
        "Divide",
        "Clamp",
        "Relu",
        "HSwish",
        "HSigmoid",
        "HardSigmoid",
        "Sigmoid",
        "Swish",
        "Concat",
        "Interpolate",
        "Reshape",
        "ShapeOf",
        "Slice",
        "StridedSlice",
        "Transpose",
        "Squeeze",
        "Unsqueeze",
        "Gather",
        "Split",
        "VariadicSplit",
        "FakeQuantize",
        "ReduceMean",
        "ReduceMax",  # the portable head's log-sum-exp over the folded classes
        "ReduceSum",
        "Log",
        "AvgPool",
        "MaxPool",
        "Pad",
        "Maximum",
        "Minimum",
        "Power",
        "Exp",
        "MatMul",
        "Broadcast",
        "Softmax",
    ]
)

LITERT_OPS = frozenset(
    [
        "ADD",
        "SUB",
        "MUL",
        "DIV",
        "CAST",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "HARD_SWISH",
        "MEAN",
        "PAD",
        "PADV2",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "TRANSPOSE",
        "RELU",
        "RELU6",
        "LOGISTIC",
        "AVERAGE_POOL_2D",
        "MAX_POOL_2D",
        "QUANTIZE",
        "DEQUANTIZE",
        "FULLY_CONNECTED",
        "MINIMUM",
        "MAXIMUM",
        "STRIDED_SLICE",
        "SLICE",
        "SPLIT",
        "SPLIT_V",
        "SQUEEZE",
        "EXPAND_DIMS",
        "GATHER",
        "GATHER_ND",
        "SOFTMAX",
        "EXP",
        "LOG",
        "REDUCE_MAX",  # the portable head's log-sum-exp over the folded classes
        "SUM",
        "TOPK_V2",  # MediaPipe's file: each class cut to its best top-k before the op
        "GREATER_EQUAL",
        "SELECT_V2",
    ]
)
MEDIAPIPE_OP = "TFLite_Detection_PostProcess"  # the op MediaPipe's ObjectDetector reads


def refuse(source: str, what: str) -> ExportError:
    """The refusal of a file that is not one of ours: one line, nothing run."""
    return ExportError(
        f"{source}: {what}, which no detect export holds; refused before running it "
        "(export it again with detect export)"
    )


def check_ops(found: Iterable[str], allowed: frozenset[str], source: str, kind: str) -> None:
    """Every op (layer) type in ``found`` is one our ``kind`` exports use."""
    # a damaged protobuf answers bytes for a name that is not UTF-8: shown as such
    names = {op if isinstance(op, str) else repr(op) for op in found}
    strangers = sorted(names - allowed)
    if strangers:
        shown = ", ".join(strangers[:5]) + (" …" if len(strangers) > 5 else "")
        raise refuse(source, f"its {kind} graph holds {shown}")


def check_side(value: float, source: str, what: str, most: float = MAX_SIZE) -> None:
    """A size the graph fixes (a resize's output side, an input dimension) is within reason."""
    if not 1 <= value <= most:
        raise refuse(source, f"{what} is {value:g} (a detect export's is 1 to {most:g})")


def brief(error: BaseException, limit: int = 200) -> str:
    """A runtime's error message as one short line (OpenVINO's run to several, one of them a
    lone parenthesis; ONNX Runtime's carry a source location first)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip(" )(")]
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
