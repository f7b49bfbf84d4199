"""POST /v1/detect: the records equal ``detect predict``'s and Model.predict's on the same
weights and backend; every bad request gets its 4xx and a JSON error naming the field; a full
queue answers 503 + Retry-After and the server recovers."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from serve.conftest import SCORE
from support.bad_images import giant_png, truncated_jpeg
from support.server import running
from support.tools import run_tool

from detect.serve.app import create_app
from detect.serve.config import ServeConfig


@pytest.fixture(scope="module")
def files(coco_val_dir: Path) -> list[Path]:
    return sorted(coco_val_dir.glob("*.jpg"))[:50]


@pytest.fixture(scope="module")
def server(model, videos_dir: Path):
    config = ServeConfig(max_batch=8, max_upload_mb=2, stream_dirs=(str(videos_dir),))
    with running(create_app(model.loaded, config)) as url:
        yield url


def post_images(url: str, files: list[Path], **params) -> httpx.Response:
    parts = [("image", (file.name, file.read_bytes(), "image/jpeg")) for file in files]
    return httpx.post(f"{url}/v1/detect", files=parts, params=params, timeout=60)


def test_records_equal_model_predict_on_50_real_images(server, model, files):
    """Five images a request, ten requests at once (batched across requests), half of them as
    JSON base64: each result equals Model.predict's records of its image, in request order."""
    groups = [files[i : i + 5] for i in range(0, len(files), 5)]

    def send(index: int) -> httpx.Response:
        if index % 2:
            images = [base64.b64encode(file.read_bytes()).decode() for file in groups[index]]
            body = {"images": images, "score_thresh": SCORE}
            return httpx.post(f"{server}/v1/detect", json=body, timeout=60)
        return post_images(server, groups[index], score_thresh=SCORE)

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(send, range(len(groups))))
    results = [entry for response in responses for entry in response.json()["results"]]
    assert all(response.status_code == 200 for response in responses)
    expected = model.predict(files, score_thresh=SCORE)
    assert len(results) == len(expected) == 50
    assert sum(len(entry["detections"]) for entry in results) > 50  # something to compare
    for entry, detections, file in zip(results, expected, files, strict=True):
        assert entry["detections"] == detections.to_records(), file.name
        height, width = (int(v) for v in detections_shape(file))
        assert (entry["width"], entry["height"]) == (width, height)


def detections_shape(file: Path) -> tuple[int, int]:
    from detect.data.images import image_size

    width, height = image_size(file)
    return height, width


def test_options_as_model_predict_names_them(server, model, files):
    response = post_images(server, files[:3], score_thresh=SCORE, max_detections=2, classes="1,2")
    expected = model.predict(files[:3], score_thresh=SCORE, max_detections=2, classes=[1, 2])
    got = [entry["detections"] for entry in response.json()["results"]]
    assert got == [d.to_records() for d in expected]
    assert all(len(d) <= 2 for d in got)


@pytest.mark.slow
def test_records_equal_the_predict_commands_json_lines(server, files, trained_like_ckpt, tmp_path):
    """The 50 images through ``detect predict`` (the tool, its JSON lines) and the server."""
    output = tmp_path / "predict"
    run_tool(
        "predict",
        f"ckpt={trained_like_ckpt}",
        f"source=[{','.join(str(f) for f in files)}]",
        f"score_thresh={SCORE}",
        "backend=onnxruntime",
        "cache=false",
        "save_images=false",
        "save_video=false",
        "progress=false",
        f"output_dir={output}",
        check=True,
    )
    lines = [json.loads(line) for line in (output / "detections.jsonl").read_text().splitlines()]
    by_file = {record["file"]: record for record in lines}
    responses = [post_images(server, files[i : i + 5], score_thresh=SCORE) for i in range(0, 50, 5)]
    results = [entry for response in responses for entry in response.json()["results"]]
    for entry, file in zip(results, files, strict=True):
        record = by_file[file.name]
        assert entry == {k: record[k] for k in ("width", "height", "detections")}, file.name


def error_of(response: httpx.Response, status: int, field: str | None = None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status and error["message"]
    if field is not None:
        assert error["field"] == field, error
    return error["message"]


def test_bad_images_are_refused_by_field(server, files):
    jpeg = files[0].read_bytes()
    cases = [
        (b"this is not an image", 415, "image[0]", "not an image"),
        (truncated_jpeg(jpeg), 422, "image[0]", "truncated"),
        (giant_png(), 413, "image[0]", "max_pixels"),
    ]
    for data, status, field, phrase in cases:
        response = httpx.post(f"{server}/v1/detect", files=[("image", data)], timeout=30)
        assert phrase in error_of(response, status, field)
    bomb = giant_png(10_000)  # under PIL's guard: ours refuses it
    response = httpx.post(f"{server}/v1/detect", files=[("image", bomb)], timeout=30)
    assert "10000×10000 decodes to 100,000,000 pixels" in error_of(response, 413, "image[0]")
    # the second image of a request is named as such
    response = httpx.post(
        f"{server}/v1/detect", files=[("image", jpeg), ("image", b"GIF89a...")], timeout=30
    )
    error_of(response, 415, "image[1]")


def test_oversized_body_is_413_before_it_is_read(server):
    response = httpx.post(
        f"{server}/v1/detect", files=[("image", b"\xff" * (3 * 2**20))], timeout=30
    )
    assert "max_upload_mb" in error_of(response, 413, "body")


def test_wrong_fields_and_types_are_named(server, files):
    jpeg = files[0].read_bytes()
    url = f"{server}/v1/detect"
    error_of(httpx.post(url, files=[("file", jpeg)]), 422, "file")
    error_of(httpx.post(url, data={"image": "text"}, files=[("x", b"")]), 422)
    only_text = {"score_thresh": (None, "0.5")}  # multipart, but no file
    assert "field 'image'" in error_of(httpx.post(url, files=only_text), 422, "image")
    error_of(httpx.post(url, data={"score_thresh": "0.5"}), 415, "content-type")
    error_of(httpx.post(url, json={"imgs": [base64.b64encode(jpeg).decode()]}), 422, "imgs")
    error_of(httpx.post(url, json={"images": ["***"]}), 422, "images[0]")
    error_of(httpx.post(url, json=[1, 2]), 422, "body")
    as_json = {"content-type": "application/json"}
    error_of(httpx.post(url, content=b"{not json", headers=as_json), 422, "body")
    error_of(httpx.post(url, content=jpeg, headers={"content-type": "image/jpeg"}), 415)
    error_of(httpx.post(url, files=[("image", jpeg)], params={"score": 0.5}), 422, "score")
    message = error_of(httpx.post(url, files=[("image", jpeg)], params={"score_thresh": 2}), 422)
    assert "score_thresh" in message
    error_of(httpx.post(url, files=[("image", jpeg)], params={"classes": "zebra"}), 422, "classes")
    error_of(httpx.get(f"{server}/v1/nothing"), 404)
    error_of(httpx.put(url), 405)


@pytest.mark.parametrize(
    "source",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "../../../../etc/passwd",
        "vtest_480x360_h264.mp4/../../../etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/stream",
        "http://127.0.0.1:9/stream",
        "http://localhost:9/stream",
        "http://0.0.0.0:9/stream",
        "gopher://example.com/",
        "ftp://example.com/clip.mp4",
        "0",
        "",
    ],
)
def test_forbidden_stream_sources_are_refused(server, source):
    response = httpx.post(f"{server}/v1/streams", json={"source": source}, timeout=30)
    error_of(response, 422, "source")


def test_api_key(model):
    config = ServeConfig(api_key="s3cret")
    with running(create_app(model.loaded, config)) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert httpx.get(f"{url}/").status_code == 200  # the page's shell: no data
        assert httpx.get(f"{url}/openapi.json").json()["paths"]["/v1/detect"]
        assert httpx.get(f"{url}/readyz").status_code == 200  # probes send no key
        wrong = {"Authorization": "Bearer nope"}
        assert "wrong" in error_of(httpx.get(f"{url}/v1/model", headers=wrong), 401)
        error_of(httpx.post(f"{url}/v1/detect", files=[("image", b"x")]), 401)
        error_of(httpx.get(f"{url}/metrics"), 401)
        good = {"Authorization": "Bearer s3cret"}
        assert httpx.get(f"{url}/v1/model", headers=good).status_code == 200
        assert httpx.get(f"{url}/metrics", headers=good).status_code == 200


class Slow:
    """The detector, 0.2 s slower per call: the queue fills."""

    def __init__(self, detector) -> None:
        self.detector = detector

    def __call__(self, images):
        time.sleep(0.2)
        return self.detector(images)


def test_full_queue_is_503_with_retry_after_then_recovers(model, files):
    loaded = dataclasses.replace(model.loaded, detector=Slow(model.loaded.detector))
    config = ServeConfig(max_batch=1, queue_size=2, retry_after_s=2)
    jpeg = files[0].read_bytes()
    with running(create_app(loaded, config)) as url:

        def send(_: int) -> httpx.Response:
            return httpx.post(f"{url}/v1/detect", files=[("image", jpeg)], timeout=60)

        with ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(send, range(12)))
        statuses = sorted(response.status_code for response in responses)
        assert set(statuses) == {200, 503}, statuses
        for response in responses:
            if response.status_code == 503:
                assert response.headers["retry-after"] == "2"
                assert "queue_size" in error_of(response, 503)
        assert send(0).status_code == 200  # recovered
        metrics = httpx.get(f"{url}/metrics").text
        assert f"detect_rejected_total {statuses.count(503)}.0" in metrics
