"""Artefacts built once per test session and shared by the xdist workers: the first worker to
ask builds under a file lock, the others wait and reuse the folder (without xdist: one process,
the same call)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

DONE = ".built"  # written last: a folder without it was left half-built and is built again


def session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every worker of this session sees: the parent of the workers' temporary
    folders under xdist (``pytest-N/popen-gwK`` → ``pytest-N``), else the session's own."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def shared_artefact(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """``<session root>/shared/<name>/``, filled by ``build(folder)`` once for all workers.
    What it holds must not be changed by the tests that read it."""
    folder = session_root(tmp_path_factory) / "shared" / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if not (folder / DONE).is_file():
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir()
            build(folder)
            (folder / DONE).write_text("")
    return folder
