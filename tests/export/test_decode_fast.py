"""Must-show 3: the fast numpy decoder gives the whole ONNX graph's detections — on real
images' heads, at eval's settings and at a caller's higher threshold, and on heads built to tie
(equal scores across classes and anchors, equal boxes, scores exactly at the threshold, a tie
at a class's k-th score) where the order alone decides."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.models import PLACEHOLDER_IDS, conditioned_model
from torch import Tensor, nn

from detect.data.categories import CategoryMap
from detect.export.onnx import decoder_for, export_bytes, match_detections, metadata_for
from detect.export.runtime import OUTPUT_NAMES, RAW_OUTPUT_NAMES, open_session
from detect.models import ssdlite
from detect.models.postprocess import PostprocessConfig

CATEGORIES = CategoryMap(PLACEHOLDER_IDS, tuple(f"class {i}" for i in PLACEHOLDER_IDS))
TIE_CLASSES = 4  # background + 3: equal logits give scores of exactly 1/4 or 1/2


class FixedHeads(nn.Module):
    """A detector whose network answers the same heads for any image: the whole graph's
    postprocessing (in ONNX Runtime) run on heads chosen by the test."""

    def __init__(self, model: nn.Module, logits: np.ndarray, codes: np.ndarray, config) -> None:
        super().__init__()
        self.size, self.num_classes = model.size, model.num_classes
        self.box_coder, self.postprocess_config = model.box_coder, config
        self.register_buffer("anchors", model.anchors.clone())
        self.register_buffer("logits", torch.from_numpy(logits))
        self.register_buffer("codes", torch.from_numpy(codes))

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        zero = images.flatten(1)[:, :1, None] * 0.0  # (N, 1, 1): the batch, no change
        return {"cls_logits": self.logits + zero, "bbox_regression": self.codes + zero}


def graph_and_decoder(logits: np.ndarray, codes: np.ndarray, config: PostprocessConfig):
    """The whole graph's detections (ONNX Runtime) and the decoder's on the same heads."""
    base = ssdlite("v3_small", 0.25, TIE_CLASSES, 320)
    fixed = FixedHeads(base, logits.astype(np.float32), codes.astype(np.float32), config)
    categories = CategoryMap((1, 2, 3), ("a", "b", "c"))
    session = open_session(export_bytes(fixed, metadata_for(fixed, categories, {}, {})))
    image = np.zeros((1, 3, 320, 320), dtype=np.uint8)  # the input's pixels are the model's
    boxes, scores, labels, _ = session.run(list(OUTPUT_NAMES), {"images": image})
    mine = decoder_for(fixed)(logits.astype(np.float32), codes.astype(np.float32), (320, 320))
    return {"boxes": boxes, "scores": scores, "labels": labels}, mine


def assert_identical(graph: dict[str, np.ndarray], mine: dict[str, np.ndarray]) -> None:
    """Same detections in the same order: labels exactly, scores and boxes to float error."""
    assert mine["labels"].tolist() == graph["labels"].tolist()
    np.testing.assert_allclose(mine["scores"], graph["scores"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(mine["boxes"], graph["boxes"], rtol=0, atol=1e-3)


def tie_heads(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """3,234 anchors' logits, each row one of a few patterns (scores tie across the anchors of
    a pattern and across the classes equal within it; no two patterns are permutations of one
    another, whose sums could round apart), and box codes of which a third blow up to the
    whole image after clipping (equal boxes), the rest the anchors' own boxes (overlapping)."""
    patterns = np.array(
        [[0.5, 1, 1, 1], [0.5, 1, 1, -1], [0.5, -1, 2, 2], [0.5, 0, -1, 0], [3, 0, 0, 0]],
        dtype=np.float32,
    )
    generator = np.random.default_rng(seed)
    logits = patterns[generator.integers(0, len(patterns), 3234)]
    codes = np.zeros((3234, 4), dtype=np.float32)
    codes[generator.random(3234) < 1 / 3, 2:] = 40.0
    return logits, codes


@pytest.mark.slow
@pytest.mark.parametrize(
    "config",
    [
        PostprocessConfig(0.001, 300, 0.55, 300),  # eval's settings: the graph's full path
        PostprocessConfig(0.001, 5, 0.55, 12),  # a tie at each class's 5th score, a short cut
        PostprocessConfig(0.3, 300, 0.55, 300),
    ],
    ids=["eval", "topk5-cut12", "thresh0.3"],
)
def test_ties_fall_as_in_the_whole_graph(config):
    logits, codes = tie_heads(0)
    graph, mine = graph_and_decoder(logits, codes, config)
    assert len(graph["scores"]) > 5 and len(np.unique(graph["scores"])) < len(graph["scores"])
    assert_identical(graph, mine)


@pytest.mark.slow
def test_scores_exactly_at_the_threshold_are_dropped_as_in_the_whole_graph():
    logits = np.zeros((3234, TIE_CLASSES), dtype=np.float32)  # every score exactly 0.25
    logits[::97, 2] = 1.0  # a few anchors above it
    codes = np.zeros((3234, 4), dtype=np.float32)
    graph, mine = graph_and_decoder(logits, codes, PostprocessConfig(0.25, 300, 0.55, 300))
    assert 0 < len(graph["scores"]) <= 34 and (graph["scores"] > 0.25).all()
    assert_identical(graph, mine)


@pytest.fixture(scope="module")
def real_heads(coco_images):
    """The whole graph's detections (ONNX Runtime) and a network-only graph's heads on the same
    real images (trained-like numerics: :func:`conditioned_model`), with the decoder."""
    model = conditioned_model("v3_large", coco_images)
    whole = open_session(export_bytes(model, metadata_for(model, CATEGORIES, {}, {})))
    raw = open_session(export_bytes(model, metadata_for(model, CATEGORIES, {}, {}, "raw")))
    references, heads, sizes = [], [], []
    for image in coco_images[:4]:
        batch = {"images": image.numpy()[None]}
        boxes, scores, labels, _ = whole.run(list(OUTPUT_NAMES), batch)
        references.append({"boxes": boxes, "scores": scores, "labels": labels})
        heads.append(raw.run(list(RAW_OUTPUT_NAMES), batch))
        sizes.append(tuple(image.shape[1:]))
    return references, heads, sizes, decoder_for(model)


@pytest.mark.slow
def test_real_images_give_the_whole_graphs_detections(real_heads):
    """At eval's threshold the full lists; at a caller's higher one (predict's cut moved into
    the decoder), the whole graph's detections above it. (One test: the fixture's exports are
    built once per xdist worker.)"""
    references, heads, sizes, decoder = real_heads
    for threshold in (0.001, 0.01, 0.02):
        cut = decoder.with_settings(score_thresh=threshold)
        found = 0
        for reference, (logits, codes), size in zip(references, heads, sizes, strict=True):
            mine = cut(logits[0], codes[0], size)
            above = {
                key: value[reference["scores"] > threshold] for key, value in reference.items()
            }
            unmatched, box, score = match_detections(mine, above)
            assert unmatched == 0 and box < 1e-3 and score < 1e-5, (threshold, unmatched, box)
            assert len(mine["scores"]) == len(above["scores"])
            found += len(mine["scores"])
        assert found > 0, threshold
