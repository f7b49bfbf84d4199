"""Every ```bash and ```python block of the Get started and How-to pages runs, as a reader would
run it: bash through the installed ``detect`` command, Python with ``python -c``, each in a fresh
folder. A block that cannot run here says why (``<!-- no-test: reason -->``). The conventions are
docs/contributing/docs.md's.

Every example's folder starts with the files the pages name: ``street.mp4`` (a real 640×360
traffic clip), ``photo.jpg`` and ``photos/`` (real COCO val2017 images),
``runs/demo/checkpoints/last.ckpt`` (what ``<run>`` reads: the suite's tiny checkpoint with
trained-like weights over the shapes categories, not a trained detector) and what the
``test-provides`` blocks write (``my_set/``, a YOLO set).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import RUN, Block, all_blocks
from support.paths import SHARED_DATA, needs_real_data, needs_videos
from support.session_cache import shared_artefact

BLOCKS = all_blocks()
# what a test-with marker (invisible on the site) may add: settings that only make an example
# cheaper — fewer epochs, frames or worker processes, the tiny debug preset. Anything an
# example needs in order to work belongs in the command the reader sees.
COST_ONLY = {"trainer.max_epochs", "debug", "max_frames", "video.frames", "loader.num_workers"}
EXECUTED = [block for block in BLOCKS if block.no_test is None]
CLIP = "car_traffic_small_640x360.mp4"
PHOTOS = 3


def run_block(block: Block, folder: Path, cache: Path) -> subprocess.CompletedProcess:
    """``block`` run in ``folder``, its output captured; ``detect`` is this environment's."""
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "DETECT_DATA": str(SHARED_DATA),
        "DETECT_CACHE": str(cache),  # one export cache for every example, as a user's
        "NO_ALBUMENTATIONS_UPDATE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    command = (
        ["bash", "-euo", "pipefail", "-c", block.script()]
        if block.language == "bash"
        else [sys.executable, "-c", block.script()]
    )
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def check(block: Block, result: subprocess.CompletedProcess) -> None:
    if result.returncode != 0:
        tail = (result.stdout[-2500:] + "\n" + result.stderr[-2500:]).strip()
        pytest.fail(
            f"the example at docs/{block.id} exited {result.returncode}\n"
            f"--- as run ---\n{block.script()}\n--- output (end) ---\n{tail}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def examples_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export cache for every example of the session, as a user's (both workers')."""
    return shared_artefact(tmp_path_factory, "doc_export_cache", lambda folder: None)


@pytest.fixture(scope="session")
def examples_home(
    tmp_path_factory: pytest.TempPathFactory,
    trained_like_ckpt: Path,
    coco_val_dir: Path,
    videos_dir: Path,
    examples_cache: Path,
) -> Path:
    """The folder every example starts from (copied for each): see the module docstring. Built
    once for the session's workers (the test-provides blocks run once)."""

    def build(home: Path) -> None:
        fill_home(home, trained_like_ckpt, coco_val_dir, videos_dir, examples_cache)

    return shared_artefact(tmp_path_factory, "doc_examples", build)


def fill_home(
    home: Path, ckpt: Path, coco_val_dir: Path, videos_dir: Path, examples_cache: Path
) -> None:
    (home / "street.mp4").symlink_to(videos_dir / CLIP)
    (home / "photos").mkdir()
    for image in sorted(coco_val_dir.glob("*.jpg"))[:PHOTOS]:
        shutil.copy(image, home / "photos" / image.name)
    shutil.copy(next((home / "photos").iterdir()), home / "photo.jpg")
    checkpoints = home / "runs" / RUN / "checkpoints"
    checkpoints.mkdir(parents=True)
    shutil.copy(ckpt, checkpoints / "last.ckpt")
    for block in BLOCKS:
        if block.provides:
            check(block, run_block(block, home, examples_cache))
            assert (home / block.provides).exists(), f"docs/{block.id} wrote no {block.provides}"


def test_hidden_overrides_only_make_an_example_cheaper():
    hidden = {
        f"docs/{block.id}: {override}"
        for block in BLOCKS
        for overrides in block.overrides.values()
        for override in overrides
        if override.split("=", 1)[0].lstrip("+") not in COST_ONLY
    }
    assert not hidden, f"show these in the command itself: {sorted(hidden)}"


def test_every_skipped_block_says_why():
    assert EXECUTED, "no executed examples found under docs/get-started and docs/how-to"
    for block in BLOCKS:
        assert block.no_test is None or block.no_test.strip(), (
            f"docs/{block.id}: <!-- no-test: … --> must give its reason"
        )


@pytest.mark.slow
@needs_real_data
@needs_videos
@pytest.mark.parametrize("block", EXECUTED, ids=[block.id for block in EXECUTED])
def test_doc_example(block: Block, examples_home: Path, examples_cache: Path, tmp_path: Path):
    folder = tmp_path / "example"
    shutil.copytree(examples_home, folder, symlinks=True)
    check(block, run_block(block, folder, examples_cache))
