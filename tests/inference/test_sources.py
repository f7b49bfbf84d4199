"""Sources: what a spec opens, clear errors naming the source, lengths, timestamps, looping,
backoff."""

from __future__ import annotations

import itertools
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.mjpeg_server import free_port
from support.streams import write_clip

from detect.errors import SourceError
from detect.inference.sources import Reconnect, open_sources


def frames_of(source, limit: int = 10_000) -> list:
    stop = threading.Event()
    out = []
    for frame in source.frames(stop):
        out.append(frame)
        if len(out) >= limit:
            stop.set()
    return out


def test_a_video_file_opens_with_its_length_fps_and_stream_timestamps(short_clip):
    (source,) = open_sources(str(short_clip))
    assert (source.kind, source.live, source.length, source.fps) == ("video", False, 795, 10.0)
    frames = frames_of(source, limit=5)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert frames[0].bgr.shape == (360, 480, 3) and frames[0].rgb.shape == (3, 360, 480)
    assert np.array_equal(frames[0].rgb[0], frames[0].bgr[:, :, 2])  # R plane from BGR
    assert source.capture is None  # released when the generator closed


def test_a_looped_file_restarts_with_growing_index_timestamp_and_segment(clip):
    (source,) = open_sources(str(clip), loop=True)
    assert source.length is None  # endless
    frames = frames_of(source, limit=30)
    assert [f.index for f in frames] == list(range(30))
    stamps = [f.timestamp for f in frames]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert stamps[12] == pytest.approx(12 / 25)  # the second pass goes on from 0.48 s
    assert int(frames[12].bgr[0, 0, 0]) == pytest.approx(int(frames[0].bgr[0, 0, 0]), abs=3)
    assert [f.segment for f in frames] == [0] * 12 + [1] * 12 + [2] * 6  # a tracker resets


def test_a_folder_gives_one_image_source_and_one_source_per_video(tmp_path, clip):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for name in ("b.png", "a.jpg"):
        cv2.imwrite(str(folder / name), np.zeros((20, 30, 3), np.uint8))
    write_clip(folder / "c.mp4", 3)
    (folder / "notes.txt").write_text("not media")
    images, video = open_sources(str(folder))
    assert (images.kind, images.length, [f.name for f in frames_of(images)]) == (
        "images",
        2,
        ["a.jpg", "b.png"],
    )
    assert frames_of(images)[0].timestamp is None
    assert (video.kind, video.length, video.name) == ("video", 3, str(folder / "c.mp4"))
    (globbed,) = open_sources(str(folder / "*.png"))
    assert globbed.files == [folder / "b.png"]


def test_duplicate_stems_get_unique_slugs(clip, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    sources = open_sources([str(clip), str(write_clip(other / "clip.mp4", 2)), str(clip)])
    assert [s.slug for s in sources] == ["clip", "clip_2", "clip_3"]


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("missing/clip.mp4", "no such file or directory"),
        ("missing/*.jpg", "no image or video files there"),
        ("99", "no camera answers at index 99"),
    ],
)
def test_sources_that_do_not_open_are_named(spec, reason):
    with pytest.raises(SourceError, match="cannot open video source") as error:
        open_sources(spec)
    assert str(error.value) == f"cannot open video source {spec!r}: {reason}"


def test_an_unreadable_file_and_an_unanswered_url_are_named(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_text("this is no video")
    with pytest.raises(SourceError, match=f"cannot open video source '{fake}': not a video"):
        open_sources(str(fake))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 no jpeg")
    with pytest.raises(SourceError, match=f"'{broken}': truncated JPEG"):
        open_sources(str(broken))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match=f"'{empty}': empty file"):
        open_sources(str(empty))
    url = f"http://127.0.0.1:{free_port()}/live.mjpg"
    start = time.perf_counter()
    with pytest.raises(SourceError, match=f"cannot open video source '{url}': no answer"):
        open_sources(url, timeout_s=2)
    assert time.perf_counter() - start < 5


def test_a_bad_file_in_a_list_is_skipped_and_counted_as_a_folders_are(clip):
    good, bad = open_sources([str(clip), "nope.mp4"])
    try:
        assert good.name == str(clip) and bad.name == "nope.mp4"
        assert "nope.mp4" in bad.skipped  # listed by the run's summary
    finally:
        good.close()


def test_backoff_doubles_up_to_its_cap_for_a_bounded_number_of_tries():
    assert list(Reconnect(tries=5, backoff_s=0.5, max_backoff_s=3).delays()) == [
        0.5,
        1.0,
        2.0,
        3.0,
        3.0,
    ]


def test_a_url_source_is_live_and_unbounded(tmp_path: Path):
    from support.mjpeg_server import MjpegServer, encode_clip

    image = tmp_path / "one.mp4"
    write_clip(image, 4)
    server = MjpegServer(encode_clip(image, 4), free_port(), fps=50)
    server.start()
    try:
        (source,) = open_sources(server.url, timeout_s=3)
        assert (source.kind, source.live, source.length) == ("stream", True, None)
        frames = frames_of(source, limit=6)
        assert [f.index for f in frames] == list(range(6))
        assert abs(frames[-1].timestamp - time.time()) < 5  # capture time, Unix seconds
    finally:
        server.stop()


def test_a_folder_whose_first_image_is_bad_reads_the_others_and_names_it(tmp_path, coco_val_dir):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a_empty.jpg").write_bytes(b"")  # first by name
    (folder / "b_dir.png").mkdir()  # a directory named like an image
    for name, file in zip(("c.jpg", "d.jpg"), sorted(coco_val_dir.glob("*.jpg")), strict=False):
        shutil.copy(file, folder / name)
    (source,) = open_sources(str(folder))
    frames = list(source.frames(threading.Event()))
    assert [frame.name for frame in frames] == ["c.jpg", "d.jpg"]
    assert source.skipped == {
        str(folder / "a_empty.jpg"): "empty file (0 bytes)",
        str(folder / "b_dir.png"): "a directory, not an image file",
    }


def test_a_truncated_video_says_how_many_frames_it_lost(tmp_path, videos_dir):
    clip = videos_dir / "car_traffic_small_640x360.mp4"
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 3 // 10])  # 30% of the bytes
    (source,) = open_sources(str(cut))
    decoded = sum(1 for _ in source.frames(threading.Event()))
    assert source.expected > decoded > 0
    assert source.truncated == (
        f"decoded {decoded} of the {source.expected} frames its container lists"
    )
    (whole,) = open_sources(str(clip))
    decoded = sum(1 for _ in whole.frames(threading.Event()))  # 917 of the 922 it lists
    assert whole.expected - 5 <= decoded <= whole.expected and whole.truncated is None
