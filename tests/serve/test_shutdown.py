"""``detect serve`` as users run it: SIGTERM during load answers every request in flight,
closes the streams and exits 0; a missing extra or bad setting is one error line."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support.mjpeg_server import free_port
from support.paths import PROJECT
from support.tools import ENV


def start_server(ckpt: Path, port: int, *overrides: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "detect", "serve", f"ckpt={ckpt}", f"port={port}", *overrides],
        cwd=PROJECT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("detect serve did not become ready")


async def in_flight(client: httpx.AsyncClient, url: str, count: int, timeout: float = 20) -> None:
    """Wait until the server is answering ``count`` requests (besides this one): each was
    received and is in progress, the definition of in flight."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = (await client.get(f"{url}/metrics")).text
        line = next(x for x in text.splitlines() if x.startswith("detect_requests_in_progress "))
        if float(line.split()[1]) >= count + 1:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never {count} requests in flight")


@pytest.mark.slow
def test_sigterm_during_load_answers_in_flight_requests_and_exits_0(
    trained_like_ckpt: Path, coco_val_dir: Path, videos_dir: Path
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_server(
        trained_like_ckpt,
        port,
        "backend=onnxruntime",
        "cache=false",
        "serve.max_batch=4",
        "serve.queue_size=128",
        f"serve.stream_dirs=[{videos_dir}]",
    )
    try:
        wait_ready(url, process)
        stream = httpx.post(
            f"{url}/v1/streams", json={"source": "vtest_480x360_h264.mp4", "loop": True}
        )
        assert stream.status_code == 201, stream.text
        jpegs = [file.read_bytes() for file in sorted(coco_val_dir.glob("*.jpg"))[:8]]

        async def load() -> tuple[list[int], int]:
            async with httpx.AsyncClient(timeout=60) as client:

                async def one(index: int) -> int:
                    files = [("image", jpegs[(index + k) % 8]) for k in range(4)]
                    response = await client.post(f"{url}/v1/detect", files=files)
                    return response.status_code

                tasks = [asyncio.create_task(one(i)) for i in range(24)]
                await in_flight(client, url, len(tasks))
                done_before = sum(task.done() for task in tasks)
                process.send_signal(signal.SIGTERM)
                return list(await asyncio.gather(*tasks)), done_before

        statuses, done_before = asyncio.run(load())
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert done_before < len(statuses), "nothing was in flight at SIGTERM"
    assert statuses == [200] * len(statuses), statuses
    assert process.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Waiting for application shutdown" in output or "Shutting down" in output


def test_missing_extra_is_one_error_line(monkeypatch):
    """Without FastAPI, detect serve says which extra to install."""
    import importlib.util

    from detect.errors import ConfigError
    from detect.serve import require_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else real(name, *a)
    )
    with pytest.raises(ConfigError, match=r"serve extra \(missing: fastapi\).*ssdlite\[serve\]"):
        require_extra()


def test_exposed_without_key_warns(caplog):
    from detect.serve.config import ServeConfig
    from detect.serve.run import warn_if_exposed

    warn_if_exposed(ServeConfig(host="0.0.0.0"))
    assert "without an API key" in caplog.text and "trusted_hosts" in caplog.text
    caplog.clear()
    warn_if_exposed(ServeConfig(host="0.0.0.0", api_key="k", trusted_hosts=("cam.example",)))
    warn_if_exposed(ServeConfig())
    assert caplog.text == ""


def test_api_key_from_the_environment(monkeypatch):
    from detect.serve.config import ServeConfig
    from detect.serve.run import with_env_key

    monkeypatch.setenv("DETECT_API_KEY", "from-env")
    assert with_env_key(ServeConfig()).api_key == "from-env"
    assert with_env_key(ServeConfig(api_key="given")).api_key == "given"
    monkeypatch.delenv("DETECT_API_KEY")
    assert with_env_key(ServeConfig()).api_key is None
    assert os.environ.get("DETECT_API_KEY") is None
