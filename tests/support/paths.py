"""Where the project and the shared real data are, and the marker for tests that need it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
CONF_DIR = PROJECT / "detect" / "conf"
BENCHMARKS_CONF_DIR = PROJECT / "benchmarks" / "conf"  # the peer benchmarks'
TOOLS = PROJECT / "tools"
# the shared real data of a checkout: ../shared/data beside it, unless DETECT_DATA says otherwise;
# set as DETECT_DATA for the whole session (conf/paths/default.yaml reads it, in this process and
# in the tools the tests start), so no test reads the user's data folder
SHARED_DATA = Path(os.environ.get("DETECT_DATA", PROJECT.parent / "shared" / "data")).resolve()
os.environ["DETECT_DATA"] = str(SHARED_DATA)
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
