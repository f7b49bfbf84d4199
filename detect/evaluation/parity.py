"""The deployment matrix's parity column: each backend's detections paired with PyTorch's on the
bench images (:func:`detect.export.onnx.match_detections`, the ONNX tolerances), told in a few
words — exact backends must pair every detection; a quantised one is told how many it pairs."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from detect.export.onnx import pair_detections, to_numpy

QUANTISED = ("_int8]", "_fp16]")  # row-name endings of the quantised backends
NOT_COMPARED = "network only]"  # rows that return no detections


def parity_status(
    row: str, detections: Sequence[dict[str, Tensor]], reference: Sequence[dict[str, Tensor]]
) -> tuple[bool, str]:
    """Whether ``row``'s ``detections`` pair with ``reference`` (PyTorch's, same images), and a
    short status: ``equal (N det, Δbox ≤ x px)``, ``K of N UNMATCHED`` or, quantised, ``K of N
    unmatched (quantised)``, N counting each pair once and each detection of either side
    without a partner once (K counts both sides' misses). A quantised row is never a
    failure: it is not expected to be equal."""
    if row.endswith(NOT_COMPARED):
        return True, "— (no detections)"
    unmatched = total = 0
    box = score = 0.0
    for ours, theirs in zip(detections, reference, strict=True):
        pairing = pair_detections(to_numpy(ours), to_numpy(theirs))
        unmatched += pairing.unmatched
        total += pairing.distinct
        box, score = max(box, pairing.box_error), max(score, pairing.score_error)
    if row.endswith(QUANTISED):
        return True, f"{unmatched} of {total} unmatched (quantised)"
    if unmatched:
        return False, f"{unmatched} of {total} UNMATCHED"
    return True, f"equal ({total} det, Δbox ≤ {box:.1g} px, Δscore ≤ {score:.1g})"
