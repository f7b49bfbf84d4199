"""Streams over the API: two clips at once, each with its own tracker and counter, equal to
``detect predict track=bytetrack`` (Model.track) on the same clip; a live source killed and
restarted goes reconnecting → running; the stream cap."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from serve.conftest import SCORE, TRACKER
from support.mjpeg_server import MjpegServer, encode_clip, free_port
from support.server import running

from detect.serve.app import create_app
from detect.serve.config import ServeConfig

CLIPS = ("vtest_480x360_h264.mp4", "car_traffic_small_640x360.mp4")
FRAMES = 60


def zone(width: int, height: int) -> dict:
    return {"name": "all", "points": [[0, 0], [width, 0], [width, height], [0, height]]}


def middle(width: int, height: int) -> list[float]:
    return [0, height / 2, width, height / 2]


def events(url: str, stream_id: str, into: list[dict], timeout: float = 60) -> None:
    """Every frame record of a stream, from its first, until its end event."""
    with httpx.stream(
        "GET", f"{url}/v1/streams/{stream_id}/events", params={"since": 0}, timeout=timeout
    ) as response:
        kind = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line[len("event: ") :]
            elif line.startswith("data: ") and kind == "frame":
                into.append(json.loads(line[len("data: ") :]))
            elif line.startswith("data: ") and kind == "end":
                return


def comparable(record: dict) -> dict:
    return {k: record[k] for k in ("frame", "width", "height", "detections", "counts")}


def test_two_clips_at_once_equal_detect_predict_track(model, videos_dir: Path):
    config = ServeConfig(stream_dirs=(str(videos_dir),), max_streams=2)
    sizes = {CLIPS[0]: (480, 360), CLIPS[1]: (640, 360)}
    with running(create_app(model.loaded, config)) as url:
        ids = []
        for clip in CLIPS:
            width, height = sizes[clip]
            body = {
                "source": clip,
                "max_frames": FRAMES,
                "score_thresh": SCORE * 2,
                "tracker": TRACKER,
                "count": {
                    "zones": [zone(width, height)],
                    "lines": [[0, height / 2, width, height / 2]],
                },
            }
            response = httpx.post(f"{url}/v1/streams", json=body, timeout=30)
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        refused = httpx.post(f"{url}/v1/streams", json={"source": CLIPS[0]}, timeout=30)
        if refused.status_code == 201:  # both ended first (60 frames): an ended one holds no slot
            states = [httpx.get(f"{url}/v1/streams/{i}", timeout=30).json()["state"] for i in ids]
            assert "running" not in states, states
            extra = refused.json()["id"]
            assert httpx.delete(f"{url}/v1/streams/{extra}", timeout=30).status_code == 204
        else:
            assert refused.status_code == 429, refused.text
            assert "max_streams" in refused.json()["error"]["message"]
        got: dict[str, list[dict]] = {stream_id: [] for stream_id in ids}
        readers = [
            threading.Thread(target=events, args=(url, stream_id, got[stream_id]))
            for stream_id in ids
        ]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout=90)
        infos = [httpx.get(f"{url}/v1/streams/{stream_id}").json() for stream_id in ids]
        mjpeg = httpx.get(f"{url}/v1/streams/{ids[0]}/video.mjpg", timeout=10)
    for clip, stream_id, info in zip(CLIPS, ids, infos, strict=True):
        width, height = sizes[clip]
        expected = model.track(
            videos_dir / clip,
            max_frames=FRAMES,
            score_thresh=SCORE * 2,
            tracker=TRACKER,
            zones=[zone(width, height)],
            lines=[middle(width, height)],
        )
        records = got[stream_id]
        assert len(records) == FRAMES
        assert [comparable(r) for r in records] == [comparable(r.record()) for r in expected]
        track_ids = {d["track_id"] for r in records for d in r["detections"] if d["track_id"]}
        assert track_ids and min(track_ids) == 1  # its own tracker: ids start at 1 per stream
        assert info["state"] == "ended" and info["frames"] == FRAMES
        assert info["track_ids"] == len(track_ids)
        assert info["counts"] == expected[-1].record()["counts"]
        assert sum(info["counts"]["zones"]["all"]["entries"].values()) == len(track_ids)
    assert mjpeg.headers["content-type"].startswith("multipart/x-mixed-replace")
    assert b"\xff\xd8" in mjpeg.content  # the last annotated frame, as a JPEG


def wait_for(url: str, stream_id: str, state: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = httpx.get(f"{url}/v1/streams/{stream_id}", timeout=5).json()
        if info["state"] == state:
            return info
        time.sleep(0.1)
    raise AssertionError(f"stream never {state}: {info}")


@pytest.mark.slow  # the reconnect's backoff: about 5 s
def test_a_killed_source_reconnects(model, short_clip: Path):
    """An MJPEG camera on loopback (allow-listed), stopped and started again mid-stream."""
    camera = MjpegServer(encode_clip(short_clip, 60), free_port(), fps=20)
    camera.start()
    config = ServeConfig(allowed_hosts=("127.0.0.1",))
    try:
        with running(create_app(model.loaded, config)) as url:
            response = httpx.post(f"{url}/v1/streams", json={"source": camera.url}, timeout=30)
            assert response.status_code == 201, response.text
            stream_id = response.json()["id"]
            wait_for(url, stream_id, "running", 20)
            camera.stop()
            wait_for(url, stream_id, "reconnecting", 20)
            camera.start()
            info = wait_for(url, stream_id, "running", 30)
            assert info["reconnects"] >= 1 and info["error"] is None
            assert httpx.delete(f"{url}/v1/streams/{stream_id}", timeout=30).status_code == 204
            assert httpx.get(f"{url}/v1/streams/{stream_id}").status_code == 404
    finally:
        camera.stop()


def test_ffmpeg_is_held_to_video_containers(model, tmp_path: Path):
    """A concat playlist named like a video, inside the allowed folder, would make FFmpeg read
    other files; the format whitelist refuses it while a real clip beside it opens."""
    from support.streams import write_clip

    write_clip(tmp_path / "clip.mp4", 30)
    (tmp_path / "evil.mp4").write_text("ffconcat version 1.0\nfile clip.mp4\n")
    config = ServeConfig(stream_dirs=(str(tmp_path),))
    with running(create_app(model.loaded, config)) as url:
        refused = httpx.post(f"{url}/v1/streams", json={"source": "evil.mp4"}, timeout=30)
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "source"
        opened = httpx.post(f"{url}/v1/streams", json={"source": "clip.mp4"}, timeout=30)
        assert opened.status_code == 201, opened.text
