"""ONNX Runtime Web's files for the browser export: the pinned npm package, fetched once by npm
itself (``npm pack``) into a cache, its integrity checked, three files kept.

Why fetched and not shipped in the wheel: the package is 34.6 MB (11 builds of the WASM runtime
with their source maps); the page needs three files of it — ``ort.wasm.min.js`` (the WASM-only
API, 54 kB), ``ort-wasm-simd-threaded.mjs`` and ``.wasm`` (the runtime, 14.8 MB) — and a user who
never exports for the web should not download 15 MB with every install. They are fetched the
first time a web export is written, by ``npm pack onnxruntime-web@<version>`` — the registry's
own client, so the user's npm settings (registry, mirror, proxy, certificates in ``.npmrc``)
apply; no registry address is written here — checked against the sha512 ``integrity`` npm
records for that version (pinned below, so a changed or tampered tarball is refused), and kept in
``<cache>/onnxruntime-web-<version>/``: later exports copy them from there and work offline.
Without npm, or offline on the first export: one error line saying how to get the tarball
elsewhere (``npm pack``) and pass it as ``web.package=<file>.tgz`` — the same check applies.
The page never fetches anything from a CDN: these files are copied into the export folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from detect.errors import ExportError
from detect.io import atomic_write

VERSION = "1.31.1"
# `npm view onnxruntime-web@1.31.1 dist.integrity`: the registry's sha512 of the tarball
INTEGRITY = (
    "sha512-5GeH+bWQ+HxM10z7erGlsWqryrwMbSvm/1tkIsKTT48g0fI19VXVVC435t4t7VsPdSQeS7"
    "NmuZPXrQ73k82URw=="
)
SPEC = f"onnxruntime-web@{VERSION}"
FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
TIMEOUT_S = 120
HOW = (
    f"on a machine with npm and the registry run `npm pack {SPEC}` and pass the file as "
    f"web.package=onnxruntime-web-{VERSION}.tgz"
)


def integrity_of(data: bytes) -> str:
    """npm's ``integrity`` string of ``data``: ``sha512-`` and the base64 digest."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def npm_pack(registry: str | None = None) -> bytes:
    """The package tarball's bytes as ``npm pack`` fetches it (``registry``: npm's
    ``--registry``; None: npm's own settings), or one error line saying how to get it when npm
    is missing or cannot reach the registry."""
    npm = shutil.which("npm")
    if npm is None:
        raise ExportError(
            f"onnxruntime-web {VERSION} is not cached and npm is not installed: {HOW}"
        )
    with tempfile.TemporaryDirectory(prefix="detect-npm-pack-") as folder:
        command = [npm, "pack", SPEC, "--pack-destination", folder, "--silent"]
        if registry:
            command += ["--registry", registry]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=folder
            )
        except subprocess.TimeoutExpired:
            raise ExportError(f"`npm pack {SPEC}` did not finish in {TIMEOUT_S} s: {HOW}") from None
        packed = Path(folder) / f"onnxruntime-web-{VERSION}.tgz"
        if result.returncode != 0 or not packed.is_file():
            said = [line for line in result.stderr.splitlines() if line.strip()]
            reason = said[0].removeprefix("npm error ").strip() if said else "no tarball"
            raise ExportError(f"`npm pack {SPEC}` failed ({reason}): {HOW}")
        return packed.read_bytes()


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
    registry: str | None = None,
    integrity: str = INTEGRITY,
) -> Path:
    """The folder holding :data:`FILES` of onnxruntime-web :data:`VERSION`: the cache's when
    filled, else filled from ``package`` (a local ``.tgz``) or by ``npm pack`` (from
    ``registry``, else npm's configured one); the tarball's sha512 must be ``integrity``."""
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
        source = f"the tarball of `npm pack {SPEC}`" + (f" from {registry}" if registry else "")
        data = npm_pack(registry)
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
