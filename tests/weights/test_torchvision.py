"""torchvision's COCO detector through a download server on 127.0.0.1: fetched once,
hash-checked, cached; its detections equal torchvision's on the same weights, with COCO's
names and ids; offline, one line says what to do. ImageNet backbones load exactly."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from support.files_server import FilesServer
from support.models import torchvision_detector_state, with_real_bn_statistics
from support.tools import assert_one_line_error, run_tool

from benchmarks.twins import torchvision_ssdlite
from detect.errors import CheckpointError, ConfigError
from detect.export.onnx import match_detections, to_numpy
from detect.models.predictor import Predictor
from detect.weights.hub import HubConfig
from detect.weights.sources import open_checkpoint
from detect.weights.torchvision import pretrained_mobilenet, torchvision_detector

NAME = "ssdlite320_mobilenet_v3_large"
UNUSED = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}  # COCO ids torchvision calls "N/A"


def published(state: dict, stem: str) -> tuple[str, bytes]:
    """A state dict as torch.hub publishes it: ``<stem>-<sha256 prefix>.pth`` and the bytes."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    body = buffer.getvalue()
    return f"{stem}-{hashlib.sha256(body).hexdigest()[:8]}.pth", body


@pytest.fixture(scope="module")
def weights(coco_images) -> tuple[dict, str, bytes]:
    """torchvision's SSDLite (weights=None, seed 0), BN statistics from real COCO images."""
    state = torchvision_detector_state(coco_images)
    return (state, *published(state, "ssdlite320_mobilenet_v3_large_coco"))


@pytest.fixture(scope="module")
def served(weights, tmp_path_factory):
    """The server, the hub config pointing at it (a cache of its own) and the file name."""
    _, name, body = weights
    with FilesServer({f"/models/{name}": body, "/models/bad-00000000.pth": b"not it"}) as server:
        cache = tmp_path_factory.mktemp("hub")
        yield server, HubConfig(cache_dir=str(cache), url=server.url(f"/models/{name}")), name


def test_fetched_once_hash_checked_and_cached(served):
    server, hub, name = served
    first = torchvision_detector(NAME, hub)
    second = open_checkpoint(f"torchvision:{NAME}", hub)
    assert server.requests[f"/models/{name}"] == 1  # the second came from the cache
    assert (Path(hub.cache_dir) / name).is_file()
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key])
    source = first.run_config["source"]
    # a stand-in named like a mirror, not torchvision's bytes: no published figure (issue 38;
    # is_published_file's own test covers the published bytes)
    assert source["published"] == {}
    assert source["weights"] == f"torchvision:{NAME}"
    assert len(first.categories.names) == 80 and "N/A" not in first.categories.names
    assert first.categories.coco_id(1) == 1 and first.categories.names[0] == "person"
    assert first.categories.coco_id(80) == 90 and first.categories.names[-1] == "toothbrush"
    assert set(first.categories.coco_ids) == set(range(1, 91)) - UNUSED


def test_a_corrupted_download_is_refused_and_not_cached(served, tmp_path):
    server, _, _ = served
    hub = HubConfig(cache_dir=str(tmp_path), url=server.url("/models/bad-00000000.pth"))
    with pytest.raises(CheckpointError, match="damaged or not the published file"):
        torchvision_detector(NAME, hub)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a partial one


@pytest.mark.slow
def test_offline_the_error_names_url_file_cache_and_weights_path(tmp_path):
    url = "http://127.0.0.1:9/models/ssdlite320_mobilenet_v3_large_coco-a79551df.pth"
    result = run_tool(
        "predict",
        f"ckpt=torchvision:{NAME}",
        f"hub.url={url}",
        f"hub.cache_dir={tmp_path}",
        "source=nothing.mp4",
    )
    line = assert_one_line_error(result, url, "ssdlite320_mobilenet_v3_large_coco-a79551df.pth")
    assert str(tmp_path) in line and "hub.weights_path=" in line


@pytest.mark.slow
def test_detections_equal_torchvisions_on_the_same_weights(weights, served, coco_images):
    state, _, _ = weights
    _, hub, _ = served
    checkpoint = torchvision_detector(NAME, hub)
    tv = torchvision_ssdlite(0).eval()
    tv.load_state_dict(state)
    ours = Predictor(checkpoint.model)(coco_images)
    with torch.inference_mode():
        theirs = tv([image.float() / 255 for image in coco_images])
    coco_ids = torch.tensor((0, *checkpoint.categories.coco_ids))
    for mine, reference in zip(ours, theirs, strict=True):
        mine = {**to_numpy(mine), "labels": coco_ids[mine["labels"]].numpy()}  # → COCO ids
        reference = to_numpy(reference)
        real = ~np.isin(reference["labels"], list(UNUSED))  # ours never reports "N/A" ids
        reference = {key: value[real] for key, value in reference.items()}
        count = len(reference["scores"])
        assert count > 0 and len(mine["scores"]) >= count
        head = {key: value[:count] for key, value in mine.items()}  # 300 slots: N/A's go to ours
        unmatched, box, score = match_detections(head, reference)
        assert unmatched == 0 and box <= 1e-3 and score <= 1e-5, (unmatched, box, score)
        assert (mine["scores"][count:] <= reference["scores"].min() + 1e-6).all()


@pytest.mark.slow
def test_the_tools_name_coco_categories_right(served, coco_val_dir, tmp_path):
    _, hub, _ = served
    torchvision_detector(NAME, hub)  # into the cache: the tools below make no request
    common = [f"ckpt=torchvision:{NAME}", f"hub.cache_dir={hub.cache_dir}", f"hub.url={hub.url}"]
    images = tmp_path / "images"
    images.mkdir()
    for file in sorted(coco_val_dir.glob("*.jpg"))[:3]:
        (images / file.name).write_bytes(file.read_bytes())
    out = tmp_path / "predict"
    run_tool(
        "predict", *common, f"source={images}", f"output_dir={out}", "score_thresh=0.0", check=True
    )
    records = [json.loads(line) for line in (out / "detections.jsonl").open()]
    found = [d for r in records for d in r["detections"]]
    assert len(records) == 3 and found
    categories = torchvision_detector(NAME, hub).categories
    names = dict(zip(categories.coco_ids, categories.names, strict=True))
    assert all(names[d["category_id"]] == d["label"] for d in found)
    assert not any(d["category_id"] in UNUSED or d["label"] == "N/A" for d in found)
    # the real val annotations of the first 16 images: the category scheme is the whole set's
    val = json.loads((coco_val_dir.parent / "annotations" / "instances_val2017.json").read_text())
    kept = {info["id"] for info in sorted(val["images"], key=lambda i: i["id"])[:16]}
    val["images"] = [info for info in val["images"] if info["id"] in kept]
    val["annotations"] = [a for a in val["annotations"] if a["image_id"] in kept]
    annotations = tmp_path / "val16.json"
    annotations.write_text(json.dumps(val))
    evaluated = run_tool(
        "eval",
        *common,
        "data=coco_subset",
        f"data.val.annotation_file={annotations}",
        "batch_size=8",
        f"output_dir={tmp_path / 'eval'}",
        check=True,
    )
    assert "16 images scored" in evaluated.stdout
    results = json.loads((tmp_path / "eval" / "detections.json").read_text())
    assert results and {r["category_id"] for r in results} <= set(names)


@pytest.mark.parametrize("name", ["v2", "v3_large", "v3_small"])
def test_imagenet_classifier_matches_torchvisions_logits(name, real_images, tmp_path):
    builder = getattr(torchvision.models, f"mobilenet_{name}")
    torch.manual_seed(0)
    model = builder(weights=None)
    tv = with_real_bn_statistics(model, lambda: model(real_images))
    path = tmp_path / f"mobilenet_{name}.pth"
    torch.save(tv.state_dict(), path)
    ours = pretrained_mobilenet(name, "imagenet", HubConfig(weights_path=str(path)))
    with torch.inference_mode():
        torch.testing.assert_close(ours(real_images), tv(real_images), rtol=1e-4, atol=1e-4)


def test_v1_has_no_published_weights_and_says_so():
    with pytest.raises(ConfigError, match="no ImageNet weights for v1"):
        pretrained_mobilenet("v1", "imagenet")
