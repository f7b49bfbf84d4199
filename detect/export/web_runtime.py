"""ONNX Runtime Web's files for the browser export: the pinned npm package, fetched once from the
npm registry into a cache, its integrity checked, three files kept.

Why fetched and not shipped in the wheel: the package is 34.6 MB (11 builds of the WASM runtime
with their source maps); the page needs three files of it — ``ort.wasm.min.js`` (the WASM-only
API, 54 kB), ``ort-wasm-simd-threaded.mjs`` and ``.wasm`` (the runtime, 14.8 MB) — and a user who
never exports for the web should not download 15 MB with every install. They are fetched the
first time a web export is written, from the registry's tarball, checked against the sha512
``integrity`` npm records for that version (pinned below, so a changed or tampered tarball is
refused), and kept in ``<cache>/onnxruntime-web-<version>/``: later exports copy them from there
and work offline. Offline on the first export: one error line saying how to fetch the tarball
elsewhere (``npm pack``) and pass it as ``web.package=<file>.tgz`` — the same check applies.
The page never fetches anything from a CDN: these files are copied into the export folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from detect.errors import ExportError
from detect.io import atomic_write

VERSION = "1.31.1"
# `npm view onnxruntime-web@1.31.1 dist.integrity`: the registry's sha512 of the tarball
INTEGRITY = (
    "sha512-5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7"
    "NmuZPXrQ73k82URw=="
)
REGISTRY = "https://registry.npmjs.org"
FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
TIMEOUT_S = 60


def tarball_url(registry: str = REGISTRY, version: str = VERSION) -> str:
    return f"{registry.rstrip('/')}/onnxruntime-web/-/onnxruntime-web-{version}.tgz"


def integrity_of(data: bytes) -> str:
    """npm's ``integrity`` string of ``data``: ``sha512-`` and the base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def download(url: str) -> bytes:
    """The tarball's bytes, or one error line saying how to get it without this machine's
    network."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ExportError(
            f"cannot fetch onnxruntime-web {VERSION} from {url} ({reason}): on a machine with "
            f"internet run `npm pack onnxruntime-web@{VERSION}` and pass the file as "
            "web.package=onnxruntime-web-" + VERSION + ".tgz"
        ) from None


def unpack(data: bytes, folder: Path, source: str) -> None:
    """The page's files from the package tarball ``data`` into ``folder``."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for name in FILES:
                member = archive.extractfile(f"package/dist/{name}")
                if member is None:
                    raise KeyError(name)
                (folder / name).write_bytes(member.read())
    except (tarfile.TarError, KeyError, OSError) as error:
        raise ExportError(f"{source} is not the onnxruntime-web package ({error})") from None


def runtime_files(
    cache_dir: str | os.PathLike[str],
    package: str | os.PathLike[str] | None = None,
    registry: str = REGISTRY,
    integrity: str = INTEGRITY,
) -> Path:
    """The folder holding :data:`FILES` of onnxruntime-web :data:`VERSION`: the cache's when
    filled, else filled from ``package`` (a local ``.tgz``) or the ``registry``'s tarball, whose
    sha512 must be ``integrity``."""
    folder = Path(cache_dir) / f"onnxruntime-web-{VERSION}"
    if all((folder / name).is_file() for name in FILES):
        return folder
    if package is not None:
        source = str(package)
        try:
            data = Path(package).read_bytes()
        except OSError as error:
            raise ExportError(f"cannot read {package} ({error.strerror})") from None
    else:
        source = tarball_url(registry)
        data = download(source)
    found = integrity_of(data)
    if found != integrity:
        raise ExportError(
            f"{source} is not onnxruntime-web {VERSION} as the npm registry published it: its "
            f"integrity is {found[:24]}…, expected {integrity[:24]}…"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".partial-"))
    try:
        unpack(data, staging, source)
        staging.chmod(0o755)  # mkdtemp's folder is private; the cache's files are not secret
        try:  # atomic: of two exports filling the cache at once, one renames, both read it
            staging.rename(folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def copy_runtime(runtime: Path, folder: Path) -> None:
    """The page's ONNX Runtime Web files into the export ``folder``."""
    for name in FILES:
        atomic_write(folder / name, (runtime / name).read_bytes())
