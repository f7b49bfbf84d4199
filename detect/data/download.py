"""Fetch COCO 2017 into ``data/coco``: download with progress and resume, verify, unpack."""

from __future__ import annotations

import os
import urllib.request
import zipfile
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from detect.errors import ConfigError

COCO_URL = "http://images.cocodataset.org"
COCO_FILES = {
    "train2017": f"{COCO_URL}/zips/train2017.zip",
    "val2017": f"{COCO_URL}/zips/val2017.zip",
    "annotations": f"{COCO_URL}/annotations/annotations_trainval2017.zip",
}


def open_partial(partial: Path, resumed: bool) -> BinaryIO:
    """The ``.part`` file, appended to (``resumed``) or begun afresh, never through a link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_APPEND if resumed else os.O_TRUNC)
    return os.fdopen(os.open(partial, flags, 0o666), "wb")


def download(url: str, target: Path) -> Path:
    """Download ``url`` to ``target`` with a progress bar; a finished file is not fetched again,
    a partial one (``.part``) is resumed with an HTTP range request."""
    if target.exists():
        return target
    partial = target.with_suffix(target.suffix + ".part")
    done = partial.stat().st_size if partial.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
    with urllib.request.urlopen(request, timeout=60) as response:
        resumed = response.status == 206
        total = int(response.headers.get("Content-Length", 0)) + (done if resumed else 0)
        with (
            open_partial(partial, resumed) as out,
            tqdm(
                total=total,
                initial=done if resumed else 0,
                unit="B",
                unit_scale=True,
                desc=target.name,
            ) as bar,
        ):
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))
    partial.rename(target)
    return target


def unpack(archive: Path, root: Path) -> None:
    """Check every member's CRC, then extract ``archive`` into ``root``."""
    with zipfile.ZipFile(archive) as zipped:
        broken = zipped.testzip()
        if broken is not None:
            archive.unlink()
            raise RuntimeError(f"{archive} is corrupt ({broken}); deleted it, run again to refetch")
        zipped.extractall(root)


def prepare_coco(root: Path, parts: list[str]) -> Path:
    """Download, verify and unpack the named parts of COCO 2017 under ``root``."""
    unknown = sorted(set(parts) - set(COCO_FILES))
    if unknown:
        raise ConfigError(f"unknown COCO parts {unknown}; choose from {sorted(COCO_FILES)}")
    root.mkdir(parents=True, exist_ok=True)
    for part in parts:
        done_marker = root / f".{part}.done"
        if done_marker.exists():
            continue
        archive = download(COCO_FILES[part], root / Path(COCO_FILES[part]).name)
        unpack(archive, root)
        done_marker.touch()
        archive.unlink()
    return root
