"""The deployment matrix's parity column: each backend's detections paired with PyTorch's on the
bench images (:func:`detect.export.onnx.match_detections`, the ONNX tolerances), told in a few
words — exact backends must pair every detection; a quantised one is told how many it pairs."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from detect.export.onnx import match_detections, to_numpy

QUANTISED = ("_int8]", "_fp16]")  # row-name endings of the quantised backends
NOT_COMPARED = "network only]"  # rows that return no detections


def parity_status(
    row: str, detections: Sequence[dict[str, Tensor]], reference: Sequence[dict[str, Tensor]]
) -> tuple[bool, str]:
    """Whether ``row``'s ``detections`` pair with ``reference`` (PyTorch's, same images), and a
    short status: ``equal (N det, Δbox ≤ x px)``, ``K UNPAIRED of N`` or, quantised, ``K
    unpaired of N (quantised)`` (unpaired counts both sides). A quantised row is never a
    failure: it is not expected to be equal."""
    if row.endswith(NOT_COMPARED):
        return True, "— (no detections)"
    unmatched = total = 0
    box = score = 0.0
    for ours, theirs in zip(detections, reference, strict=True):
        missing, box_error, score_error = match_detections(to_numpy(ours), to_numpy(theirs))
        unmatched += missing
        total += len(theirs["scores"])
        box, score = max(box, box_error), max(score, score_error)
    if row.endswith(QUANTISED):
        return True, f"{unmatched} unpaired of {total} (quantised)"
    if unmatched:
        return False, f"{unmatched} UNPAIRED of {total}"
    return True, f"equal ({total} det, Δbox ≤ {box:.1g} px, Δscore ≤ {score:.1g})"
