"""detect as users install it: the ``detect-ssdlite`` wheel built from the repo, installed with
its ``serve`` extra into a fresh virtual environment outside the checkout, runs train → predict
→ export → eval from an empty folder with the configs it ships; `detect --help` lists the
commands and `detect serve --help` is our server's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from support.paths import PROJECT

pytestmark = pytest.mark.slow
# the checkout's top-level folders that are no sources of the wheel
NOT_SOURCES = {
    ".git",
    ".venv",
    "build",
    "detect.egg-info",
    "detect_ssdlite.egg-info",
    "runs",
    "outputs",
    "data",
    "checkpoints",
    "site",  # the docs site mkdocs builds (README's test command)
}


def outside_sources(folder: str, names: list[str]) -> set[str]:
    return NOT_SOURCES & set(names) if Path(folder) == PROJECT else set()


def run(command: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["NO_ALBUMENTATIONS_UPDATE"] = "1"
    result = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``detect`` command of a wheel built from the checkout, installed as a user installs
    it, ``pip install "detect_ssdlite-….whl[serve]"``, into a new virtual environment that
    borrows this one's packages: pip resolves the wheel's requirements and the serve extra's
    against them, offline (``--no-index``: a requirement nothing here satisfies fails the
    install); only the wheel is new, and this environment's editable ``detect`` is not visible
    there."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # a copy: setuptools' build/ in the checkout may hold stale files
    shutil.copytree(PROJECT, source, ignore=outside_sources)
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(root / "dist"), str(source)],
        cwd=root,
    )  # fmt: skip
    wheel = next((root / "dist").glob("detect_ssdlite-*.whl"))  # the distribution's name
    names = zipfile.ZipFile(wheel).namelist()
    assert "detect/conf/train.yaml" in names and "detect/conf/backbone/v3_large.yaml" in names
    assert "detect/serve/static/index.html" in names  # the live page ships with the server
    assert not any(name.startswith(("benchmarks/", "tests/", "tools/")) for name in names)
    assert "detect/benchmarks/twins.py" not in names  # peer comparisons stay in the checkout
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=root)
    python = venv / "bin" / "python"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root
    ).stdout.strip()
    # the dependencies of this environment, after the new one's own site-packages
    (Path(site) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # the new venv's own setuptools (the interpreter's bundled 65.x) would shadow the borrowed one
    # that torch requires (>= 77): pip could then satisfy torch with nothing, offline
    run([str(python), "-m", "pip", "uninstall", "-y", "-q", "setuptools"], root)
    dist = str(root / "dist")
    run([str(python), "-m", "pip", "install", "--no-index", "--find-links", dist, "-q",
         f"{wheel}[serve]"], root)  # fmt: skip
    requested = run([str(python), "-m", "pip", "show", "detect-ssdlite"], root).stdout
    assert "Name: detect-ssdlite" in requested and "Location: " + site in requested, requested
    located = run([str(python), "-c", "import detect; print(detect.__file__)"], root).stdout
    assert Path(located.strip()).is_relative_to(Path(site)), located
    return venv / "bin" / "detect"


def test_the_wheel_trains_predicts_exports_and_evaluates_from_an_empty_folder(
    installed: Path, tmp_path: Path, short_clip: Path
):
    detect = str(installed)
    work = tmp_path / "empty"
    work.mkdir()
    listing = run([detect, "--help"], work).stdout
    serving = run([detect, "serve", "--help"], work).stdout
    assert "POST /v1/detect" in serving and "\nhost: 127.0.0.1" in serving, serving  # ours
    for command in ("train", "eval", "predict", "export", "check-data", "import-weights"):
        assert f"\n  {command} " in listing, listing
    assert run([detect, "--version"], work).stdout.startswith("detect ")
    run([detect, "train", "debug=tiny", "run_name=first", "threads=1"], work)
    ckpt = work / "runs" / "first" / "checkpoints" / "last.ckpt"
    assert ckpt.is_file() and (work / "data" / "shapes_tiny").is_dir()  # relative to the user
    log = (work / "runs" / "first" / "train.log").read_text()
    progress = re.findall(r"epoch \d done \((\d)/2\), train/loss [\d.]+ at step \d+, [\d.]+ s", log)
    assert progress == ["1", "2"], log[-2000:]  # one line per epoch, as it ends
    predicted = run(
        [detect, "predict", f"ckpt={ckpt}", f"source={short_clip}", "max_frames=20",
         "output_dir=predicted", "threads=1"],
        work,
    )  # fmt: skip
    lines = (work / "predicted" / "detections.jsonl").read_text().splitlines()
    assert len(lines) == 20 and "| 20 | 20 |" in predicted.stdout
    run([detect, "export", f"ckpt={ckpt}", "check.count=2"], work)
    assert (work / "runs" / "first" / "export" / "last.onnx").is_file()
    evaluated = run([detect, "eval", f"ckpt={ckpt}", "output_dir=evaluated"], work)
    assert "AP" in evaluated.stdout and (work / "evaluated" / "metrics.json").is_file()
    assert not (PROJECT / "runs" / "first").exists()
