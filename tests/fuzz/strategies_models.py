"""Malformed exported models, generated: the four runtime formats' readers (ONNX Runtime's
``.onnx``, NCNN's ``.param``/``.bin``/``.json``, OpenVINO's ``.xml``/``.bin``, LiteRT's
``.tflite``), each fed a real export of an untrained tiny detector with one hostile edit --
bytes flipped or cut, a graph parameter or attribute set to a hostile number, a layer type
swapped, a metadata value replaced by junk -- then asked for one image's detections.

The base exports are written once per process (:func:`base_files`, ~30 s: pnnx, OpenVINO's
converter and LiteRT's take their time). Rules and outcomes: :mod:`fuzz.campaign`; a native
crash (SIGSEGV) would end the run, which is what these targets are here to rule out.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from fuzz.campaign import Target
from hypothesis import strategies as st

IMAGE = np.random.default_rng(0).integers(0, 255, (3, 72, 88), dtype=np.uint8)
HOSTILE_NUMBERS = ["0", "-1", "-5", "60000", "100000", "2147483647", "1e30", "nan", "inf", "x"]
FORMATS = {"onnx": "model.onnx", "ncnn": "model.param", "openvino": "model.xml"}
FORMATS["tflite"] = "model.tflite"


@functools.cache
def base_files() -> dict[str, dict[str, bytes]]:
    """Each format's files (name → bytes) of one untrained 96-px V3-Small ×0.25 export."""
    from support.checkpoints import make_checkpoint

    from detect.evaluation.checked_export import export_model
    from detect.export.variants import plan_export
    from detect.weights.checkpoint import load_checkpoint

    files: dict[str, dict[str, bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="fuzz-base-") as folder:
        checkpoint = load_checkpoint(make_checkpoint(Path(folder) / "t.ckpt", Path(folder) / "s"))
        for fmt, name in FORMATS.items():
            output = Path(folder) / fmt / name
            export_model(checkpoint, plan_export(fmt, ["fp32"]), output)
            files[fmt] = {path.name: path.read_bytes() for path in output.parent.iterdir()}
    return files


# --- edits --------------------------------------------------------------------------------------

FLIPS = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8)


def flipped(data: bytes, flips: list[tuple[float, int]]) -> bytes:
    body = bytearray(data)
    for where, value in flips:
        body[min(int(where * len(body)), len(body) - 1)] = value
    return bytes(body)


def cut(data: bytes, keep: float) -> bytes:
    return data[: int(keep * len(data))]


NUMBER_TEXT = re.compile(rb"(?<=[=\",])-?\d+(\.\d+)?(e[+-]?\d+)?")


def number_replaced(data: bytes, which: float, value: str) -> bytes:
    """The text with its ``which``-th fraction number (an NCNN parameter, an XML attribute's)
    replaced by ``value``."""
    spots = list(NUMBER_TEXT.finditer(data))
    if not spots:
        return data
    spot = spots[min(int(which * len(spots)), len(spots) - 1)]
    return data[: spot.start()] + value.encode() + data[spot.end() :]


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.sampled_from([float("nan"), float("inf"), -1.0, 1e300]),
    st.text(max_size=6),
    st.just([]),
    st.just({}),
    st.just([1, 2]),
    st.just("a\nb"),
)


def leaves(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths to every leaf of a JSON value (the anchors' numbers sampled, not all listed)."""
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaves(item, (*path, key))]
    if isinstance(value, list):
        picked = value if len(value) <= 8 else value[:4] + value[-2:]
        return [(*path, i) for i in range(len(picked))] + [
            p for i, item in enumerate(picked) for p in leaves(item, (*path, i))
        ]
    return [path]


def json_edited(text: bytes, which: float, junk: Any) -> bytes:
    """The metadata JSON with one of its values (a leaf or a list) replaced by ``junk``."""
    raw = json.loads(text)
    spots = leaves(raw)
    path = spots[min(int(which * len(spots)), len(spots) - 1)]
    node = raw
    for key in path[:-1]:
        node = node[key]
    if path:
        node[path[-1]] = junk
    return json.dumps(raw).encode()


EDIT = st.one_of(
    st.tuples(st.just("flip"), FLIPS),
    st.tuples(st.just("cut"), st.floats(0, 0.999)),
    st.tuples(st.just("number"), st.floats(0, 1), st.sampled_from(HOSTILE_NUMBERS)),
    st.tuples(st.just("json"), st.floats(0, 1), JUNK),
)


def edited(files: dict[str, bytes], main: str, edit: tuple) -> dict[str, bytes]:
    """``files`` with ``edit`` applied to its graph (``main``), or to its metadata for a
    ``json`` edit (NCNN's ``.json``; the others' metadata travels in the graph: its text is
    edited in place)."""
    files = dict(files)
    kind, *args = edit
    if kind == "flip":
        files[main] = flipped(files[main], args[0])
    elif kind == "cut":
        files[main] = cut(files[main], args[0])
    elif kind == "number":
        files[main] = number_replaced(files[main], *args)
    elif "model.json" in files:
        files["model.json"] = json_edited(files["model.json"], *args)
    else:
        files[main] = metadata_edited(files[main], *args)
    return files


def metadata_edited(data: bytes, which: float, junk: Any) -> bytes:
    """The graph with its embedded detect metadata JSON edited (same length or not: the
    readers must refuse a damaged container as cleanly as damaged metadata)."""
    start = data.find(b'{"categories": {"ids": ')
    if start < 0:
        return data
    decoder = json.JSONDecoder()
    try:
        _, end = decoder.raw_decode(data[start:].decode("latin-1"))
    except ValueError:
        return data
    text = data[start : start + end]
    return data[:start] + json_edited(text, which, junk) + data[start + end :]


# --- the readers --------------------------------------------------------------------------------


def load(fmt: str, path: Path) -> Any:
    if fmt == "onnx":
        from detect.export.runtime import OnnxDetector

        return OnnxDetector(path, threads=1)
    if fmt == "ncnn":
        from detect.export.ncnn_runtime import NcnnDetector

        return NcnnDetector(path, threads=1)
    if fmt == "openvino":
        from detect.export.openvino_runtime import OpenVINODetector

        return OpenVINODetector(path, threads=1)
    from detect.export.litert_runtime import LiteRTDetector

    return LiteRTDetector(path, threads=1)


def runner(fmt: str):
    def run(edit: tuple, folder: Path) -> dict[str, np.ndarray]:
        files = edited(base_files()[fmt], FORMATS[fmt], edit)
        for name, data in files.items():
            (folder / name).write_bytes(data)
        [found] = load(fmt, folder / FORMATS[fmt])([IMAGE])
        return found

    return run


def finite_detections(found: dict[str, np.ndarray]) -> str:
    """Detections reach drawing and JSON only finite, with known categories."""
    if not np.isfinite(found["boxes"]).all() or not np.isfinite(found["scores"]).all():
        return "nan"
    return "ok"


def ready(edit: tuple) -> tuple:
    """``edit``, once the base exports exist: they are written while a case is drawn, not
    while it runs under the campaign's hang alarm (their first writing takes longer)."""
    base_files()
    return edit


TARGETS = [
    Target(f"{fmt} model", st.builds(ready, EDIT), runner(fmt), finite_detections)
    for fmt in FORMATS
]
