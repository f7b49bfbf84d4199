"""Where the project and the shared real data are, and the marker for tests that need it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT / "detect" / "conf"
BENCHMARKS_CONF_DIR = PROJECT / "benchmarks" / "conf"  # the peer benchmarks'
TOOLS = PROJECT / "tools"
# the same default as conf/paths/default.yaml (relative to the project root)
SHARED_DATA = Path(os.environ.get("DETECT_DATA", PROJECT.parent / "shared" / "data")).resolve()
COCO_SUBSET = SHARED_DATA / "coco_subset"
VIDEOS = SHARED_DATA / "videos"

needs_real_data = pytest.mark.skipif(
    not COCO_SUBSET.is_dir(),
    reason=f"real data not found at {COCO_SUBSET}: check out ../shared beside the project "
    "(or set DETECT_DATA)",
)
needs_videos = pytest.mark.skipif(
    not VIDEOS.is_dir(),
    reason=f"real clips not found at {VIDEOS}: check out ../shared beside the project",
)
