# Named to sort before test_openvino.py: a process that has run OpenVINO's CPU plugin dies without a
# word in this module's Chromium parity test (seen in the full suite; its cause is not yet found),
# and pytest (xdist too) runs a worker's tests in collection order.
"""The browser export: ONNX Runtime Web's files fetched by ``npm pack`` from a registry (a
127.0.0.1 server here) with the pinned integrity checked, cached, refused when tampered with, one
line offline or without npm; the page
served cross-origin isolated; and — in headless Chromium — the page's detections on 10 real COCO
images equal Python ONNX Runtime's on the same .onnx, with its own WASM latency on 1 and 2
threads.

The real onnxruntime-web tarball comes from ``$DETECT_ORT_WEB_TGZ``: ``.ci/run`` fetches it with
``npm pack`` when CI installs (the tests download nothing); the test serves it as a registry on
127.0.0.1, so the export's ``npm pack`` path and the pinned sha512 run for real."""

from __future__ import annotations

import io
import json
import os
import shutil
import statistics
import sys
import tarfile
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest
from support.configs import compose_config
from support.files_server import FilesServer
from support.paths import needs_real_data

from detect.cli.export_web import export_web
from detect.errors import ExportError, MissingExtraError
from detect.export.onnx import BOX_TOLERANCE, SCORE_TOLERANCE, match_detections
from detect.export.runtime import OnnxDetector
from detect.export.web import ISOLATION_HEADERS, MODEL, serving
from detect.export.web_runtime import FILES, SPEC, VERSION, integrity_of, runtime_files

TGZ = os.environ.get("DETECT_ORT_WEB_TGZ")
TARBALL_PATH = f"/onnxruntime-web/-/onnxruntime-web-{VERSION}.tgz"
needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


def quiet_npm(patch: pytest.MonkeyPatch, cache: Path) -> None:
    """npm's cache in ``cache`` (each ``npm pack`` asks the test's registry afresh) and no
    retries against a registry that is down (npm's default waits about a minute)."""
    patch.setenv("npm_config_cache", str(cache))
    patch.setenv("npm_config_fetch_retries", "0")


@pytest.fixture(autouse=True)
def npm_cache(tmp_path_factory, monkeypatch):
    quiet_npm(monkeypatch, tmp_path_factory.mktemp("npm-cache"))


def registry_files(data: bytes, url: str) -> dict[str, bytes]:
    """What a registry serves for onnxruntime-web with ``data`` as its tarball: the package
    document npm asks for first (its ``dist.integrity`` is the real one of ``data``: npm checks
    it itself) and the tarball."""
    tarball = url + TARBALL_PATH
    document = {
        "name": "onnxruntime-web",
        "dist-tags": {"latest": VERSION},
        "versions": {
            VERSION: {
                "name": "onnxruntime-web",
                "version": VERSION,
                "dist": {"tarball": tarball, "integrity": integrity_of(data)},
            }
        },
    }
    return {"/onnxruntime-web": json.dumps(document).encode(), TARBALL_PATH: data}


def registry(data: bytes) -> FilesServer:
    """A 127.0.0.1 npm registry serving ``data`` as onnxruntime-web's tarball."""
    server = FilesServer({})
    server.files.update(registry_files(data, server.url("")))
    return server


def tarball(files: dict[str, bytes]) -> bytes:
    """An npm package tarball holding ``files`` under package/dist/."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/dist/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@needs_npm
def test_the_runtime_is_fetched_once_checked_and_cached(tmp_path):
    data = tarball({name: f"contents of {name}".encode() for name in FILES})
    with registry(data) as server:
        url = server.url("")
        folder = runtime_files(tmp_path, registry=url, integrity=integrity_of(data))
        again = runtime_files(tmp_path, registry=url, integrity=integrity_of(data))
        assert server.requests[TARBALL_PATH] == 1  # npm fetched it; the second export: cache
    assert folder == again == tmp_path / f"onnxruntime-web-{VERSION}"
    assert (folder / FILES[2]).read_bytes() == f"contents of {FILES[2]}".encode()


@needs_npm
def test_a_tampered_tarball_and_no_network_are_one_line_each(tmp_path):
    data = tarball({name: b"x" for name in FILES})
    with registry(data) as server, pytest.raises(ExportError) as tampered:
        runtime_files(tmp_path, registry=server.url(""))  # the pinned integrity: not this
    assert "as the npm registry published it" in str(tampered.value)
    with FilesServer({}) as closed:
        dead = closed.url("")
    with pytest.raises(ExportError) as offline:
        runtime_files(tmp_path, registry=dead)
    message = str(offline.value)
    assert "\n" not in message and message.startswith(f"`npm pack {SPEC}` failed (")
    assert f"run `npm pack {SPEC}` and pass the file as web.package=" in message
    assert not any(tmp_path.iterdir())  # nothing half-written in the cache


def test_without_npm_one_line_says_how_to_get_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    with pytest.raises(ExportError) as missing:
        runtime_files(tmp_path / "cache")
    message = str(missing.value)
    assert "\n" not in message and "npm is not installed" in message
    assert f"run `npm pack {SPEC}` and pass the file as web.package=" in message


def test_the_page_is_served_cross_origin_isolated(tmp_path):
    for name in (*FILES, MODEL, "model.json", "index.html", "detect.js"):
        (tmp_path / name).write_bytes(b"0")
    with serving(tmp_path) as url, urllib.request.urlopen(url + FILES[2]) as response:
        assert response.headers["Content-Type"] == "application/wasm"
        for key, value in ISOLATION_HEADERS.items():
            assert response.headers[key] == value
    (tmp_path / MODEL).unlink()
    with pytest.raises(Exception, match=r"is not a web export \(missing model.onnx\)"):
        serving(tmp_path).__enter__()


def test_missing_selenium_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    from detect.evaluation.browser import PageSession

    for module in ("selenium", "selenium.webdriver"):  # not installed: neither imports
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingExtraError, match=r"pip install 'detect-ssdlite\[web\]'"):
        PageSession(tmp_path).__enter__()


@pytest.fixture(scope="module")
def web_folder(trained_like_ckpt, coco_val_dir, tmp_path_factory):
    """detect export format=web of the trained-like checkpoint, ONNX Runtime Web fetched from a
    127.0.0.1 registry serving the real tarball (its pinned sha512 checked)."""
    if not TGZ:
        pytest.skip("DETECT_ORT_WEB_TGZ is not set (.ci/run fetches onnxruntime-web with it)")
    pytest.importorskip("selenium", reason="the web extra (CI installs it)")
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip("no chromium / chromedriver (CI installs them)")
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (the export fetches onnxruntime-web with npm pack)")
    folder = tmp_path_factory.mktemp("web") / "page"
    with pytest.MonkeyPatch.context() as patch, registry(Path(TGZ).read_bytes()) as server:
        quiet_npm(patch, tmp_path_factory.mktemp("npm-cache"))
        config = compose_config(
            "export",
            [
                f"ckpt={trained_like_ckpt}",
                "format=web",
                f"output={folder}",
                f"check.images_dir={coco_val_dir}",
                "check.count=2",
                f"web.registry={server.url('')}",
                f"web.cache_dir={tmp_path_factory.mktemp('web-cache')}",
            ],
        )
        return export_web(config)


@needs_real_data
@pytest.mark.slow
def test_chromium_runs_the_page_as_python_onnxruntime_does(web_folder, coco_images):
    from detect.evaluation.browser import PageSession

    python = OnnxDetector(web_folder / MODEL)
    latency = {}
    for threads in (2, 1):
        with PageSession(web_folder, threads) as page:
            assert page.info == {"threads": threads, "isolated": True}
            if threads == 2:  # parity on 10 images, with threads (the faster setting)
                for image in coco_images[:10]:
                    array = image.numpy()
                    result = page.detect(array)
                    reference = python([array])[0]
                    ours = {
                        "boxes": np.array(result["boxes"], dtype=np.float32).reshape(-1, 4),
                        "scores": np.array(result["scores"], dtype=np.float32),
                        "labels": np.array(result["labels"]),
                    }
                    assert len(ours["scores"]) == len(reference["scores"]) > 0
                    unmatched, box, score = match_detections(ours, reference)
                    assert unmatched == 0 and box <= BOX_TOLERANCE and score <= SCORE_TOLERANCE
                    assert result["names"] == list(reference["names"])
            page.load(coco_images[0].numpy())
            latency[threads] = statistics.median(page.run()["ms"] for _ in range(8))
    print(f"\nONNX Runtime Web (WASM) in headless Chromium, median of 8 warm runs: {latency}")
    assert latency[1] > 0 and latency[2] > 0


@needs_real_data
@pytest.mark.slow
def test_a_user_picks_an_image_and_the_page_draws_named_boxes(web_folder, coco_val_dir):
    from selenium.webdriver.common.by import By

    from detect.evaluation.browser import AWAIT, PageSession

    with PageSession(web_folder, threads=1) as page:
        jpeg = sorted(coco_val_dir.glob("*.jpg"))[0]
        page.driver.execute_script("window.detectResults = null")
        page.driver.find_element(By.ID, "file").send_keys(str(jpeg))
        result = page.driver.execute_async_script(
            AWAIT.format(
                "new Promise(r => { const t = setInterval(() => window.detectResults && "
                "(clearInterval(t), r(window.detectResults)), 50) })"
            )
        )
        status = page.driver.find_element(By.ID, "status").text
        canvas = page.driver.execute_script(
            "const c = document.getElementById('canvas'); return [c.width, c.height]"
        )
    names = set(OnnxDetector(web_folder / MODEL).metadata.names)
    assert result["scores"] and set(result["names"]) <= names
    assert "detection(s) with score" in status
    height, width = cv2.imread(str(jpeg)).shape[:2]
    assert canvas == [width, height]  # drawn at the image's own size
