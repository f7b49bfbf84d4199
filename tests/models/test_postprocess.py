"""The early-stopping postprocess is exact: the same detections as NMS over every candidate
followed by the cut — on real images, on an untrained network's all-equal scores and on
scores forced into a few tied values — and the same as the previous implementation wherever
the order is defined (no exactly tied scores)."""

from __future__ import annotations

import pytest
import torch
from support.models import conditioned_model
from torchvision.ops import batched_nms, clip_boxes_to_image

import detect.models.postprocess as postprocessing
from detect.models import preprocess, ssdlite
from detect.models.postprocess import postprocess


def previous(cls_logits, bbox_regression, anchors, input_size, original_sizes, box_coder, config):
    """The implementation this one replaced (full batched_nms over every candidate, then the
    cut): the reference where no two scores tie (its tie order was torch.sort's, unstable)."""
    num_classes = cls_logits.shape[-1]
    scores = torch.softmax(cls_logits, dim=-1)[..., 1:].transpose(1, 2)
    boxes = clip_boxes_to_image(box_coder.decode(bbox_regression, anchors), input_size)
    top_scores, top_anchor = scores.topk(min(config.topk_per_class, scores.shape[-1]), dim=-1)
    labels = torch.arange(1, num_classes)[:, None].expand_as(top_anchor)
    detections = []
    for image, original in enumerate(original_sizes):
        keep = top_scores[image] > config.score_thresh
        image_scores, image_labels = top_scores[image][keep], labels[image][keep]
        image_boxes = boxes[image][top_anchor[image][keep]]
        kept = batched_nms(image_boxes, image_scores, image_labels, config.nms_thresh)
        kept = kept[: config.detections_per_image]
        detections.append(
            {
                "boxes": postprocessing.scale_boxes(image_boxes[kept], input_size, original),
                "scores": image_scores[kept],
                "labels": image_labels[kept],
            }
        )
    return detections


def run(model, outputs, sizes, function=postprocess):
    return function(
        outputs["cls_logits"],
        outputs["bbox_regression"],
        model.anchors,
        (model.size, model.size),
        sizes,
        model.box_coder,
        model.postprocess_config,
    )


def full_nms(monkeypatch, model, outputs, sizes):
    """The same function with a first window of every candidate: NMS over all, then the cut."""
    with monkeypatch.context() as patch:
        patch.setattr(postprocessing, "FIRST_WINDOW", 10**9)
        return run(model, outputs, sizes)


def count_windows(patch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the windows NMS runs on, appended as it runs."""
    windows: list[int] = []
    nms = postprocessing.nms

    def counting(boxes, scores, iou):
        windows.append(len(scores))
        return nms(boxes, scores, iou)

    patch.setattr(postprocessing, "nms", counting)
    return windows


def assert_identical(ours, reference):
    for mine, theirs in zip(ours, reference, strict=True):
        assert len(theirs["scores"]) > 0
        for key in ("boxes", "scores", "labels"):
            assert torch.equal(mine[key], theirs[key]), key


@pytest.fixture(scope="module")
def real(coco_images):
    """A trained-like V3-Large SSDLite and its raw outputs on six real COCO images."""
    model = conditioned_model("v3_large", coco_images)
    batch = preprocess(coco_images, model.size)
    with torch.no_grad():
        return model, model(batch.images), batch.original_sizes


@pytest.mark.slow
def test_real_images_give_the_previous_detections(real, monkeypatch):
    model, outputs, sizes = real
    ours = run(model, outputs, sizes)
    assert all(len(found["scores"]) == 300 for found in ours)
    assert_identical(ours, run(model, outputs, sizes, previous))
    assert_identical(ours, full_nms(monkeypatch, model, outputs, sizes))


def test_an_untrained_networks_tied_scores_give_the_full_runs_detections(monkeypatch):
    torch.manual_seed(0)
    model = ssdlite("v3_large", reduced_tail=True, num_classes=91, size=320).eval()
    images = [torch.randint(0, 256, (3, 240, 320), dtype=torch.uint8)]
    batch = preprocess(images, 320)
    with torch.no_grad():
        outputs = model(batch.images)
    scores = torch.softmax(outputs["cls_logits"], -1)
    assert torch.equal(scores, scores[:, :1].expand_as(scores))  # every anchor alike: all tied
    with monkeypatch.context() as patch:
        windows = count_windows(patch)
        ours = run(model, outputs, batch.original_sizes)
    assert_identical(ours, full_nms(monkeypatch, model, outputs, batch.original_sizes))
    # the first window (1,200) falls short; the next is sized from its keep rate, not 4× it
    assert len(windows) >= 2 and windows[0] == 1200 and windows[-1] < 2400


@pytest.mark.parametrize("levels", [2, 5])
def test_scores_forced_into_a_few_values_give_the_full_runs_detections(real, monkeypatch, levels):
    model, outputs, sizes = real
    logits = outputs["cls_logits"]
    tied = {**outputs, "cls_logits": (logits * levels / logits.abs().max()).round()}
    ours = run(model, tied, sizes)
    assert_identical(ours, full_nms(monkeypatch, model, tied, sizes))
    assert any(torch.unique(found["scores"]).numel() < len(found["scores"]) for found in ours)


def test_it_touches_a_fraction_of_the_candidates(real, monkeypatch):
    model, outputs, sizes = real
    windows = count_windows(monkeypatch)
    run(model, outputs, sizes)
    candidates = (torch.softmax(outputs["cls_logits"], -1)[..., 1:] > 0.001).sum().item()
    assert max(windows) <= 4800 < candidates / 6
