"""The docs site as a reader sees it: built with ``mkdocs build --strict``, served on 127.0.0.1
and opened in headless Chromium (selenium driving /usr/bin/chromedriver). Each page must render
its title and the navigation with no severe console error; the home page's screenshot is kept
in tests/artifacts/docs-home.png."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.paths import PROJECT

CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = PROJECT / "tests" / "artifacts"
# page path in the site → a word its title must hold (each page's own h1 leads its title)
PAGES = {
    "": "detect",
    "get-started/detect-video/": "Detect objects in a video",
    "how-to/video/": "Video analytics",
    "reference/commands/": "Commands",
    "reference/python-api/": "Python API",
    "explanation/benchmarks/": "Benchmark results",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("chromium") is None or not CHROMEDRIVER.is_file(),
        reason="no chromium / chromedriver (.ci/run installs both)",
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built strictly into a temporary folder (a warning fails the build)."""
    folder = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reads the browser, not the access log
        pass


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """The built site over HTTP on a free local port (as a reader's browser fetches it)."""
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.mark.parametrize("page", list(PAGES), ids=[p or "home" for p in PAGES])
def test_page_renders_with_navigation_and_no_console_errors(browser, server: str, page: str):
    from selenium.webdriver.common.by import By

    browser.get_log("browser")  # what earlier pages logged is theirs
    browser.get(server + page)
    assert PAGES[page] in browser.title, browser.title
    heading = browser.find_element(By.CSS_SELECTOR, "article h1").text
    assert heading.strip(), "the page has no heading"
    nav = browser.find_elements(By.CSS_SELECTOR, "nav.md-nav--primary a.md-nav__link")
    labels = {link.get_attribute("textContent").strip() for link in nav}
    assert {"Install", "Commands", "Architecture"} <= labels, sorted(labels)
    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not severe, severe


def test_home_page_screenshot(browser, server: str):
    """The home page rendered with its theme (a styled header, not bare HTML), saved as an
    artifact for a person to look at."""
    from selenium.webdriver.common.by import By

    browser.get(server)
    header = browser.find_element(By.CSS_SELECTOR, "header.md-header")
    colour = header.value_of_css_property("background-color")
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent"), colour  # the theme's CSS loaded
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "docs-home.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"home page screenshot: {shot}")
