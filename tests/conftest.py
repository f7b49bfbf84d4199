"""Shared fixtures: real COCO images and clips from the shared data (skipped with a reason when
absent), tiny shapes sets and checkpoints, composed tool configs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from omegaconf import DictConfig
from support.checkpoints import make_checkpoint
from support.configs import compose_config
from support.logs import unstale_log_streams
from support.paths import COCO_SUBSET, VIDEOS
from support.tools import ENV as TOOL_ENV

from detect.data.images import load_images, read_image, to_chw_tensor

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
VAL_ANNOTATIONS = COCO_SUBSET / "annotations" / "instances_val2017.json"
SHORT_CLIP = "vtest_480x360_h264.mp4"  # 795 frames, 480×360, 10 fps: the shortest clip here


# a marker per optional extra (registered in pyproject.toml), put on each test whose id names
# the runtime it needs: `pytest -m "not litert"` leaves out the LiteRT conversions
EXTRA_MARKERS = {
    "litert": ("litert", "tflite"),
    "ncnn": ("ncnn",),
    "openvino": ("openvino",),
    "mediapipe": ("mediapipe",),
    "web": ("test_browser_web", "headless_browser", "test_doc_site"),
    "serve": ("tests/serve/", "serve.md", "cli/test_serve"),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        nodeid = item.nodeid.lower()
        for marker, words in EXTRA_MARKERS.items():
            if any(word in nodeid for word in words):
                item.add_marker(marker)


def use_export_cache(patch: pytest.MonkeyPatch, folder: Path) -> None:
    """``$DETECT_CACHE`` here and in the tools the tests run (their environment, copied at
    import, is patched in place)."""
    patch.setenv("DETECT_CACHE", str(folder))
    patch.setitem(TOOL_ENV, "DETECT_CACHE", str(folder))


@pytest.fixture(autouse=True)
def log_handlers_on_current_stderr() -> None:
    """An in-process command (Hydra's logging set-up closes every handler) must not close
    pytest's capture stream through absl's handler, nor a handler from an earlier test write to
    that test's closed one: see support.logs."""
    unstale_log_streams()


@pytest.fixture(scope="session", autouse=True)
def session_export_cache(tmp_path_factory: pytest.TempPathFactory):
    """One export cache (``$DETECT_CACHE``) for the session, never the user's ~/.cache: a
    checkpoint's checked ONNX graph is exported once, and later loads of the same weights (the
    cache is keyed on their bytes) read it, as a user's second load does. A test that needs a
    first load asks for ``empty_export_cache``."""
    with pytest.MonkeyPatch.context() as patch:
        use_export_cache(patch, tmp_path_factory.mktemp("export-cache"))
        yield


@pytest.fixture
def empty_export_cache(session_export_cache, tmp_path_factory: pytest.TempPathFactory, monkeypatch):
    """An empty export cache of the test's own: a load exports and checks as if first."""
    use_export_cache(monkeypatch, tmp_path_factory.mktemp("export-cache"))


@pytest.fixture(scope="session")
def coco_subset() -> Path:
    """The shared real COCO subset's root (val2017/, train2017/, annotations/)."""
    if not COCO_SUBSET.is_dir():
        pytest.skip(f"real data not found at {COCO_SUBSET}: check out ../shared beside it")
    return COCO_SUBSET


@pytest.fixture(scope="session")
def coco_val_dir(coco_subset: Path) -> Path:
    return coco_subset / "val2017"


@pytest.fixture(scope="session")
def real_images(coco_val_dir: Path) -> torch.Tensor:
    """Six real COCO val2017 images, resized to 224×224, ImageNet-normalised: (6, 3, 224, 224)."""
    batch = []
    for file in sorted(coco_val_dir.glob("*.jpg"))[:6]:
        image = cv2.resize(read_image(file), (224, 224), interpolation=cv2.INTER_AREA)
        batch.append((image.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD)
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="session")
def coco_images(coco_val_dir: Path) -> list[torch.Tensor]:
    """Six real COCO val images of mixed sizes, (3, H, W) uint8, decoded once."""
    return load_images(coco_val_dir, 6)


def load_rgb(file: Path) -> torch.Tensor:
    """A real image as a (3, H, W) uint8 tensor."""
    return to_chw_tensor(read_image(file))


@pytest.fixture(scope="session")
def coco_val_samples(coco_val_dir: Path) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """Four real val images (mixed sizes) with their official non-crowd boxes (xyxy) and labels."""
    from pycocotools.coco import COCO

    coco = COCO(str(VAL_ANNOTATIONS))
    samples = []
    for image_id in sorted(coco.getImgIds())[:4]:
        info = coco.loadImgs(image_id)[0]
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=image_id)) if not a["iscrowd"]]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        labels = torch.tensor([a["category_id"] for a in anns], dtype=torch.int64)
        samples.append(
            (load_rgb(coco_val_dir / info["file_name"]), {"boxes": boxes, "labels": labels})
        )
    return samples


@pytest.fixture(scope="session")
def coco_val_set(coco_val_dir: Path):
    """The real val subset as our COCO-format dataset (no transforms)."""
    from detect.data.coco import CocoDetection

    return CocoDetection(coco_val_dir, VAL_ANNOTATIONS)


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    if not (VIDEOS / SHORT_CLIP).is_file():
        pytest.skip(f"real clips not found at {VIDEOS}: check out ../shared beside the project")
    return VIDEOS


@pytest.fixture(scope="session")
def short_clip(videos_dir: Path) -> Path:
    return videos_dir / SHORT_CLIP


@pytest.fixture(scope="session")
def tiny_shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``debug=tiny`` shapes set (24 train and 9 val images of 96 px; the odd val count
    makes DDP pad it with a repeat), generated once for the session."""
    from detect.data.shapes import generate_shapes

    generation = compose_config("train", ["debug=tiny"]).data.generation
    return generate_shapes(tmp_path_factory.mktemp("shapes"), **generation)


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 96-px SSDLite (V3-Small ×0.25) checkpoint over 3 shape categories."""
    folder = tmp_path_factory.mktemp("ckpt")
    return make_checkpoint(folder / "tiny.ckpt", folder / "shapes")


@pytest.fixture
def cfg_train(tiny_shapes: Path, tmp_path: Path) -> DictConfig:
    """``conf/train.yaml`` with ``debug=tiny`` on the session's tiny shapes, writing under
    ``tmp_path`` (run ``t``)."""
    return compose_config(
        "train", ["debug=tiny", f"data.root={tiny_shapes}", f"runs_dir={tmp_path}", "run_name=t"]
    )


@pytest.fixture
def cfg_eval(tiny_ckpt: Path, tmp_path: Path) -> DictConfig:
    """``conf/eval.yaml`` on ``tiny_ckpt``, writing under ``tmp_path``."""
    return compose_config("eval", [f"ckpt={tiny_ckpt}", f"output_dir={tmp_path / 'eval'}"])


@pytest.fixture(scope="session")
def trained_like_ckpt(tmp_path_factory: pytest.TempPathFactory, coco_images) -> Path:
    """The tiny checkpoint with trained-like weights: confident detections on real images."""
    from support.checkpoints import make_trained_like_checkpoint

    folder = tmp_path_factory.mktemp("trained_like")
    (folder / "run" / "checkpoints").mkdir(parents=True)
    return make_trained_like_checkpoint(
        folder / "run" / "checkpoints" / "last.ckpt", folder / "shapes", coco_images
    )
