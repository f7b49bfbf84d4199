"""The browser export run where users run it: headless Chromium (selenium + chromedriver) opens
the page (:mod:`detect.export.web`) on a local server, and the page runs the model with ONNX
Runtime Web (WASM). Images go in as exact pixels (the page's test hook: no browser JPEG decoder
between us and the model), detections and the page's own timing of ``session.run`` come back.

    with PageSession(folder, threads=2) as page:
        result = page.detect(image_chw_uint8)  # boxes, scores, labels, names, ms

Needs the ``web`` extra (selenium) and Chromium with its driver (Debian: ``chromium``,
``chromium-driver``).
"""

from __future__ import annotations

import atexit
import base64
import math
import shutil
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from detect.errors import ConfigError, ExportError, import_extra
from detect.evaluation.latency import Runner, StageTimes
from detect.export.runtime import OnnxDetector
from detect.export.web import serving, write_web
from detect.export.web_runtime import runtime_files
from detect.inference.export_cache import default_cache_dir

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = "chromedriver"
LOAD_TIMEOUT_S = 120
# a page promise's value (or its error) handed back to WebDriver's asynchronous script
AWAIT = "const done = arguments[0]; {}.then(done, e => done({{error: String(e)}}))"


def chromium_paths() -> tuple[str, str]:
    """Chromium and its driver on this machine, or one error line naming what to install."""
    browser = next((path for name in CHROMIUM if (path := shutil.which(name))), None)
    driver = shutil.which(DRIVER)
    if browser is None or driver is None:
        raise ConfigError(
            "the browser benchmark needs Chromium and chromedriver (Debian: apt-get install "
            "chromium chromium-driver)"
        )
    return browser, driver


class PageSession:
    """A web export's page open in headless Chromium, ``threads`` WASM threads, served
    cross-origin isolated from a local server for the block."""

    def __init__(self, folder: str | Path, threads: int = 1) -> None:
        self.folder, self.threads = Path(folder), threads
        self.stack = ExitStack()
        self.driver: Any = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> PageSession:
        webdriver = import_extra("selenium.webdriver", "selenium (the browser runner)", "web")
        browser, driver = chromium_paths()
        url = self.stack.enter_context(serving(self.folder))
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
            options.add_argument(argument)
        service = webdriver.chrome.service.Service(driver)
        self.driver = webdriver.Chrome(service=service, options=options)
        self.stack.callback(self.driver.quit)
        self.driver.set_script_timeout(LOAD_TIMEOUT_S)
        self.driver.get(f"{url}?threads={self.threads}")
        self.info = self.driver.execute_async_script(AWAIT.format("window.detectReady"))
        if "error" in self.info:
            raise ExportError(
                f"{self.folder}: the page could not load the model: {self.info['error']}"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def load(self, image: np.ndarray) -> None:
        """``image`` (3, H, W) uint8 RGB as the page's input."""
        chw = np.ascontiguousarray(image, dtype=np.uint8)
        text = base64.b64encode(chw.tobytes()).decode()
        self.driver.execute_script(
            "window.detectLoadPixels(arguments[0], arguments[1], arguments[2])",
            text,
            int(chw.shape[1]),
            int(chw.shape[2]),
        )

    def run(self) -> dict[str, Any]:
        """One run of the page's model on the loaded image: its detections and ``ms``."""
        return self.driver.execute_async_script(AWAIT.format("window.detectRun()"))

    def detect(self, image: np.ndarray) -> dict[str, Any]:
        self.load(image)
        return self.run()


def as_tensors(result: dict[str, Any]) -> dict[str, Tensor]:
    """The page's detections as :class:`~detect.models.predictor.Detector` tensors."""
    if "error" in result:
        raise ExportError(f"the page's run failed: {result['error']}")
    return {
        "boxes": torch.tensor(result["boxes"], dtype=torch.float32).reshape(-1, 4),
        "scores": torch.tensor(result["scores"], dtype=torch.float32),
        "labels": torch.tensor(result["labels"], dtype=torch.int64),
    }


def browser_runner(onnx: bytes, images: Sequence[Tensor], threads: int) -> Runner:
    """A bench runner: the page in headless Chromium (``threads`` WASM threads) runs ``onnx``
    on ``images``; its time is the page's own ``performance.now()`` around ``session.run``
    (the WebDriver round trip is not counted). The browser stays open for the process."""
    folder = Path(tempfile.mkdtemp(prefix="detect-web-"))
    metadata = OnnxDetector(onnx).metadata
    write_web(folder, onnx, metadata, runtime_files(default_cache_dir()))
    page = PageSession(folder, threads).__enter__()
    atexit.register(page.__exit__)
    atexit.register(shutil.rmtree, folder, True)
    arrays = [image.numpy() for image in images]

    def run() -> tuple[StageTimes, list[dict[str, Tensor]]]:
        total, detections = 0.0, []
        for array in arrays:
            result = page.detect(array)
            detections.append(as_tensors(result))
            total += result["ms"] / 1000
        return (math.nan, total, math.nan), detections

    return run
