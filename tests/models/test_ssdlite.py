"""SSDLite: torchvision parity on real COCO images, any backbone/width/size, edge cases."""

import copy

import pytest
import torch
from torchvision.models.detection import ssdlite320_mobilenet_v3_large
from torchvision.models.detection.anchor_utils import DefaultBoxGenerator
from torchvision.models.detection.image_list import ImageList

from detect.models import BACKBONES, load_torchvision, preprocess, ssdlite


def test_parameters_and_anchors_equal_torchvision_ssdlite320():
    model = ssdlite("v3_large", reduced_tail=True, num_classes=91, size=320)
    assert sum(p.numel() for p in model.parameters()) == 3_440_060
    assert model.anchors.shape == (3234, 4)


@pytest.mark.parametrize("size", [256, 300, 320, 512])
@pytest.mark.parametrize("ratios", [[[2, 3]] * 6, [[2]] + [[2, 3]] * 5])
def test_default_boxes_equal_torchvision_generator(size, ratios):
    model = ssdlite("v2", width_mult=0.5, size=size, aspect_ratios=ratios, min_ratio=0.15)
    grids = model.features.grid_sizes(size)
    generator = DefaultBoxGenerator(ratios, min_ratio=0.15, max_ratio=0.95)
    images = ImageList(torch.zeros(1, 3, size, size), [(size, size)])
    maps = [torch.zeros(1, 1, *grid) for grid in grids]
    torch.testing.assert_close(model.anchors, generator(images, maps)[0], rtol=0, atol=0)


@pytest.fixture(scope="module")
def converted_pair(coco_val_samples):
    """torchvision's SSDLite320 (seeded, BN statistics from real images) and ours on its weights."""
    torch.manual_seed(0)
    theirs = ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
    images = [image.float() / 255 for image, _ in coco_val_samples]
    with torch.no_grad():
        for module in theirs.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # running stats = average over the passes below
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.1)
        theirs.train()
        batch, _ = theirs.transform(images)
        theirs.head(list(theirs.backbone(batch.tensors).values()))
    theirs.eval()
    ours = load_torchvision(ssdlite("v3_large", reduced_tail=True), theirs.state_dict()).eval()
    return theirs, ours, images


def test_raw_outputs_equal_torchvision(converted_pair):
    theirs, ours, images = converted_pair
    with torch.no_grad():
        batch, _ = theirs.transform(images)
        expected = theirs.head(list(theirs.backbone(batch.tensors).values()))
        ours_batch = preprocess(images, 320)
        actual = ours(ours_batch.images)
    torch.testing.assert_close(ours_batch.images, batch.tensors, rtol=0, atol=1e-6)
    for key in ("cls_logits", "bbox_regression"):
        assert (actual[key] - expected[key]).abs().max().item() < 1e-4
        assert expected[key].std() > 0.01  # non-trivial outputs


def test_detections_equal_torchvision(converted_pair):
    theirs, ours, images = converted_pair
    assert len({tuple(image.shape) for image in images}) > 1, "a batch of mixed sizes"
    with torch.no_grad():
        expected = theirs(images)
        batch = preprocess(images, 320)
        actual = ours.postprocess(ours(batch.images), batch.original_sizes)
    for mine, reference in zip(actual, expected, strict=True):
        assert len(reference["boxes"]) > 0
        assert torch.equal(mine["labels"], reference["labels"])
        assert (mine["boxes"] - reference["boxes"]).abs().max().item() < 1e-3
        assert (mine["scores"] - reference["scores"]).abs().max().item() < 1e-5


def test_training_loss_equals_torchvision(converted_pair, coco_val_samples):
    theirs, ours, images = converted_pair
    targets = [target for _, target in coco_val_samples]
    theirs, ours = copy.deepcopy(theirs).train(), copy.deepcopy(ours).train()
    expected = theirs(images, copy.deepcopy(targets))
    batch = preprocess(images, 320, targets)
    actual = ours.loss(ours(batch.images), batch.targets)
    assert batch.dropped_boxes == 0
    for key in ("classification", "bbox_regression"):
        assert actual[key].item() == pytest.approx(expected[key].item(), rel=1e-5)
    sum(actual.values()).backward()
    assert all(p.grad is not None for p in ours.parameters())


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize(("width", "size"), [(1.0, 320), (0.5, 256), (0.75, 384)])
def test_every_backbone_width_and_size(backbone, width, size):
    model = ssdlite(backbone, width_mult=width, num_classes=21, size=size).eval()
    grids = model.features.grid_sizes(size)
    num_anchors = sum(6 * rows * cols for rows, cols in grids)
    with torch.no_grad():
        outputs = model(torch.randn(2, 3, size, size))
        detections = model.postprocess(outputs, [(480, 640), (size, size)])
    assert model.anchors.shape == (num_anchors, 4)
    assert outputs["cls_logits"].shape == (2, num_anchors, 21)
    assert outputs["bbox_regression"].shape == (2, num_anchors, 4)
    for image, (height, width_px) in zip(detections, [(480, 640), (size, size)], strict=True):
        assert len(image["boxes"]) <= 300
        assert (image["labels"] >= 1).all() and (image["labels"] < 21).all()
        assert (image["scores"][:-1] >= image["scores"][1:]).all()
        assert (image["boxes"] >= 0).all()
        assert (image["boxes"][:, 2] <= width_px + 1e-3).all()
        assert (image["boxes"][:, 3] <= height + 1e-3).all()


def test_extra_depths_scale_with_width_and_have_a_floor():
    model = ssdlite("v3_small", width_mult=0.1, size=320)
    assert model.features.channels[2:] == [51, 25, 25, 16]


def test_high_score_threshold_gives_empty_detections():
    from detect.models.postprocess import PostprocessConfig

    model = ssdlite("v3_small", size=320, postprocess=PostprocessConfig(score_thresh=0.99)).eval()
    with torch.no_grad():
        detections = model.postprocess(model(torch.randn(1, 3, 320, 320)), [(320, 320)])
    assert detections[0]["boxes"].shape == (0, 4)


def test_image_without_boxes_trains_on_its_hardest_negatives():
    model = ssdlite("v3_small", size=320).eval()  # eval: BN can't train on one 1×1 map
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}
    batch = preprocess([torch.rand(3, 200, 300)], 320, [empty])
    outputs = model(batch.images)
    loss = model.loss(outputs, batch.targets)
    assert loss["bbox_regression"].item() == 0.0
    # min_negatives = 3: the three highest background losses, over one (the positives' floor)
    background = torch.nn.functional.cross_entropy(
        outputs["cls_logits"][0],
        torch.zeros(outputs["cls_logits"].shape[1], dtype=torch.int64),
        reduction="none",
    )
    expected = background.topk(3).values.sum()
    assert loss["classification"].item() == pytest.approx(expected.item(), rel=1e-5)
    loss["classification"].backward()
    assert model.head.classification[0][1].weight.grad.abs().sum() > 0


def test_labels_outside_the_classes_are_refused():
    model = ssdlite("v3_small", num_classes=5, size=320).eval()
    target = {"boxes": torch.tensor([[10.0, 10.0, 90.0, 90.0]]), "labels": torch.tensor([5])}
    batch = preprocess([torch.rand(3, 100, 100)], 320, [target])
    with pytest.raises(ValueError, match=r"labels in \[5, 5\]; they must lie in \[1, 4\]"):
        model.loss(model(batch.images), batch.targets)


def test_degenerate_and_outside_boxes_are_clipped_or_dropped_and_counted():
    target = {
        "boxes": torch.tensor(
            [
                [10.0, 10.0, 50.0, 60.0],  # fine
                [20.0, 20.0, 20.0, 40.0],  # zero width → dropped
                [-30.0, 5.0, 40.0, 500.0],  # partly outside → clipped to the 100×200 image
                [300.0, 10.0, 350.0, 40.0],  # wholly outside → dropped
            ]
        ),
        "labels": torch.tensor([1, 2, 3, 4]),
    }
    batch = preprocess([torch.rand(3, 100, 200)], 320, [target])
    assert batch.dropped_boxes == 2
    assert batch.targets[0]["labels"].tolist() == [1, 3]
    expected = torch.tensor([[10.0, 10.0, 50.0, 60.0], [0.0, 5.0, 40.0, 100.0]]) * torch.tensor(
        [320 / 200, 320 / 100, 320 / 200, 320 / 100]
    )
    torch.testing.assert_close(batch.targets[0]["boxes"], expected)


def test_grey_and_rgba_images_are_converted():
    rgb = torch.randint(0, 256, (3, 60, 80), dtype=torch.uint8)
    grey = rgb[:1]
    rgba = torch.cat([rgb, torch.full((1, 60, 80), 255, dtype=torch.uint8)])
    batch = preprocess([rgb, grey, rgba], 64)
    torch.testing.assert_close(batch.images[2], batch.images[0])
    torch.testing.assert_close(batch.images[1], batch.images[1][:1].expand(3, -1, -1))
    assert batch.images.min() >= -1 and batch.images.max() <= 1


def test_wrong_shapes_give_clear_errors():
    model = ssdlite("v3_small", size=320)
    with pytest.raises(
        ValueError, match=r"expected preprocessed images of shape \(N, 3, 320, 320\)"
    ):
        model(torch.randn(1, 3, 300, 300))
    with pytest.raises(ValueError, match=r"expected an image tensor \(C, H, W\)"):
        preprocess([torch.rand(60, 80)], 320)
    with pytest.raises(ValueError, match="smaller than v2's total stride 32"):
        ssdlite("v2", size=16)
    with pytest.raises(ValueError, match=r"a float image must lie in \[0, 1\]"):
        preprocess([torch.rand(3, 20, 20) * 255], 320)
    with pytest.raises(ValueError, match="2 images in the outputs but 1 original sizes"):
        model.postprocess(model(torch.randn(2, 3, 320, 320)), [(320, 320)])


def test_float64_images_are_accepted():
    batch = preprocess([torch.rand(3, 20, 30, dtype=torch.float64)], 64)
    assert batch.images.dtype == torch.float32


def test_dilated_backbone_feeds_ssdlite():
    model = ssdlite("v3_large", dilated=True, size=320).eval()
    assert model.features.strides[:2] == [16, 16]
    with torch.no_grad():
        outputs = model(torch.randn(1, 3, 320, 320))
    assert (
        outputs["cls_logits"].shape[1]
        == model.anchors.shape[0]
        == 6 * (400 + 400 + 100 + 25 + 9 + 4)
    )


def test_forward_exports_with_static_shapes():
    model = ssdlite("v3_small", width_mult=0.5, size=256).eval()
    exported = torch.export.export(model, (torch.randn(1, 3, 256, 256),))
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        expected = model(x)
    actual = exported.module()(x)
    for key in ("cls_logits", "bbox_regression"):
        torch.testing.assert_close(actual[key], expected[key])
