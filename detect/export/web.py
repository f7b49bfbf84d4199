"""The browser export: a folder any static host can serve — ``model.onnx`` (the whole pipeline,
uint8 image in, detections out), ``model.json`` (names, size), ``index.html`` + ``detect.js``
(open an image or a webcam frame, run, draw the boxes with names) and ONNX Runtime Web's files
(:mod:`detect.export.web_runtime`, copied in: the page loads nothing from elsewhere).

WASM threads need ``SharedArrayBuffer``, which browsers give only to a cross-origin isolated
page: :func:`serve` sends the two headers (COOP ``same-origin``, COEP ``require-corp``) on
127.0.0.1 (``detect serve-web``); without them the page runs on one thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from detect.errors import ConfigError
from detect.export.metadata import ExportMetadata
from detect.export.web_runtime import FILES, copy_runtime
from detect.export.web_server import ISOLATION_HEADERS as ISOLATION_HEADERS  # re-exported
from detect.export.web_server import FolderServer, serve_folder
from detect.io import atomic_write

PAGE_FILES = ("index.html", "detect.js")
MODEL = "model.onnx"


def write_web(folder: str | Path, onnx: bytes, metadata: ExportMetadata, runtime: Path) -> Path:
    """The page's folder at ``folder``: ``onnx`` (a whole-graph export), its names, the page and
    ONNX Runtime Web's files from ``runtime``. Returns the folder."""
    if metadata.outputs != "detections":
        raise ConfigError("format=web runs the whole graph in the page: drop postprocess=false")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    page = resources.files("detect.export") / "web_page"
    for name in PAGE_FILES:
        atomic_write(folder / name, (page / name).read_bytes())
    copy_runtime(runtime, folder)
    names = {"names": list(metadata.names), "coco_ids": list(metadata.coco_ids)}
    atomic_write(folder / "model.json", json.dumps({**names, "size": metadata.size}).encode())
    atomic_write(folder / MODEL, onnx)
    return folder


def check_folder(folder: str | Path) -> Path:
    """A web export's folder, or one error line saying what is missing."""
    folder = Path(folder)
    missing = [n for n in (*PAGE_FILES, MODEL, "model.json", *FILES) if not (folder / n).is_file()]
    if missing:
        raise ConfigError(
            f"{folder} is not a web export (missing {', '.join(missing)}); write one with "
            "detect export ckpt=… format=web"
        )
    return folder


def server(
    folder: str | Path,
    port: int = 0,
    host: str = "127.0.0.1",
    trusted_hosts: tuple[str, ...] | None = None,
) -> FolderServer:
    """An HTTP server for ``folder`` (checked) with the isolation headers; ``port=0``: any free
    one (``server.server_address[1]``). See :mod:`detect.export.web_server`."""
    return serve_folder(check_folder(folder), port, host, trusted_hosts)


@contextmanager
def serving(folder: str | Path, port: int = 0) -> Iterator[str]:
    """``folder`` served from a background thread for the block; yields its URL."""
    httpd = server(folder, port)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
