"""The live page in a real browser: headless Chromium (Debian's, driven by selenium through
/usr/bin/chromedriver) on a phone-sized window opens /, adds a stream from a real clip served
as an MJPEG camera on loopback, and sees its annotated frames play and its counts update; an
image uploaded through the page's form gets its result. The screenshot is kept as
tests/artifacts/live_page.png."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from support.mjpeg_server import MjpegServer, encode_clip, free_port
from support.paths import PROJECT
from support.server import running

from detect.serve.app import create_app
from detect.serve.config import ServeConfig

CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = PROJECT / "tests" / "artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("chromium") is None or not Path(CHROMEDRIVER).is_file(),
        reason="no chromium and chromedriver to render the page",
    ),
]


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=412,1400")  # a phone's width
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def until(check, timeout: float = 30, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"the page never showed {what}")


def test_page_plays_a_stream_with_counts(model, short_clip: Path, coco_val_dir: Path, browser):
    from selenium.webdriver.common.by import By

    camera = MjpegServer(encode_clip(short_clip, 120, width=480), free_port(), fps=15)
    camera.start()
    config = ServeConfig(allowed_hosts=("127.0.0.1",))
    try:
        with running(create_app(model.loaded, config)) as url:
            browser.get(url + "/")
            until(lambda: "onnxruntime" in browser.find_element(By.ID, "model").text, 15, "model")
            browser.find_element(By.ID, "source").send_keys(camera.url)
            browser.find_element(By.ID, "line").send_keys("0,135,480,135")
            browser.find_element(By.CSS_SELECTOR, "#add-stream button").click()
            card = until(lambda: browser.find_elements(By.CSS_SELECTOR, ".stream"), 20, "a card")[0]
            video = card.find_element(By.CSS_SELECTOR, "img.video")
            width = until(
                lambda: browser.execute_script("return arguments[0].naturalWidth", video),
                what="a frame",
            )
            assert width == 480
            frames = card.find_element(By.CSS_SELECTOR, ".frames")
            first = int(until(lambda: frames.text, what="a frame count"))
            until(lambda: int(frames.text or 0) > first + 5, what="frames updating")
            counts = until(
                lambda: card.find_element(By.CSS_SELECTOR, ".counts").text, what="counts"
            )
            assert "line1 in" in counts and "line1 out" in counts
            until(lambda: card.find_element(By.CSS_SELECTOR, ".state").text == "running")
            # the upload form: a real image, its result drawn
            image = sorted(coco_val_dir.glob("*.jpg"))[0]
            browser.find_element(By.ID, "file").send_keys(str(image))
            browser.find_element(By.CSS_SELECTOR, "#upload button").click()
            summary = until(
                lambda: browser.find_element(By.ID, "upload-summary").text, what="a result"
            )
            assert summary.endswith("detections")
            time.sleep(0.5)  # a few more frames for the screenshot
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shot = ARTIFACTS / "live_page.png"
            browser.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
            assert browser.find_element(By.ID, "stream-error").text == ""
    finally:
        camera.stop()
