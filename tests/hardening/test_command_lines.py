"""Issue 38's command-line cases: a mandatory value left out, a misspelt key, an unknown
format, an output that cannot be written, Ctrl-C -- each one ``error:`` line, before the work
(and, where no input was read yet, before torch loads)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import one_error_line

from detect.export.formats import EXPORT_FORMATS

FRESH = """
import sys
from detect.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as error:
    print("exit", error.code, "torch" in sys.modules)
"""


def fresh(tmp_path: Path, *args: str) -> tuple[str, str]:
    """``detect <args>`` in a new process: what it printed (stdout: exit code, torch loaded),
    stderr."""
    result = subprocess.run(
        [sys.executable, "-c", FRESH, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    return result.stdout.strip(), result.stderr


@pytest.mark.parametrize(
    ("command", "key"),
    [
        ("export", "ckpt"),
        ("predict", "ckpt"),
        ("eval", "ckpt"),
        ("serve", "ckpt"),
        ("serve-web", "folder"),
    ],
)
def test_a_mandatory_value_left_out_is_one_line_naming_it(detect_cli, command, key):
    """Before: omegaconf's MissingMandatoryValue traceback, after torch loaded (17 s)."""
    code, text = detect_cli(command)
    one_error_line(code, text, f"needs {key}", f"{key}=")


def test_the_missing_value_is_answered_before_torch_loads(tmp_path):
    out, err = fresh(tmp_path, "predict", "ckpt=x.ckpt")
    assert out == "exit 1 False", out + err[-2000:]
    one_error_line(1, err, "needs source")


def test_a_misspelt_key_lists_the_valid_keys_not_hydras_plus_advice(detect_cli):
    code, text = detect_cli("export", "ckpt=x.ckpt", "formt=onnx")
    line = one_error_line(code, text, "'formt'", "did you mean format?", "ckpt", "output")
    assert "+formt" not in text and line.count(",") > 5


def test_a_misspelt_nested_key_lists_its_levels_keys(detect_cli):
    code, text = detect_cli("summary", "backbone=v1", "backbone.reduced_tail=true")
    one_error_line(code, text, "'backbone.reduced_tail'", "name, width_mult")


def test_an_unknown_format_lists_every_format_web_included_before_torch_loads(tmp_path):
    """Before: 7-12 s (torch first), and the list left out web."""
    out, err = fresh(tmp_path, "export", "ckpt=x.ckpt", "format=bogus")
    assert out == "exit 1 False", out + err[-2000:]
    one_error_line(1, err, "'bogus'", *EXPORT_FORMATS)
    assert "web" in EXPORT_FORMATS


@pytest.mark.parametrize("fmt", ["onnx", "ncnn", "openvino"])
def test_an_output_that_is_a_folder_is_refused_before_the_checkpoint_is_read(
    detect_cli, tmp_path, fmt
):
    """Before: the whole export ran, then IsADirectoryError. The checkpoint named here does
    not exist: had the export started, that would be the error."""
    folder = tmp_path / "existing"
    folder.mkdir()
    code, text = detect_cli("export", "ckpt=absent.ckpt", f"format={fmt}", f"output={folder}")
    one_error_line(code, text, "is a folder", str(folder))
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("case", ["existing file", "under a file"])
def test_a_web_output_that_cannot_be_a_folder_is_refused_first(detect_cli, tmp_path, case):
    """Before: FileExistsError / PermissionError after the export."""
    blocker = tmp_path / "a-file"
    blocker.write_text("mine")
    output = blocker if case == "existing file" else blocker / "site"
    code, text = detect_cli("export", "ckpt=absent.ckpt", "format=web", f"output={output}")
    one_error_line(code, text, "a-file")
    assert blocker.read_text() == "mine"


def test_ctrl_c_in_the_middle_of_writing_is_one_line_130_and_no_file(
    detect_cli, tmp_path, tiny_ckpt, monkeypatch
):
    """The interrupt arrives while the export's bytes are being flushed to disk."""
    import detect.io

    def interrupted(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(detect.io.os, "fsync", interrupted)
    output = tmp_path / "out" / "model.onnx"
    code, text = detect_cli("export", f"ckpt={tiny_ckpt}", f"output={output}", "check.count=0")
    monkeypatch.undo()
    assert code == 130
    one_error_line(code, text, "interrupted (Ctrl-C)")
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


@pytest.mark.slow
def test_a_real_sigint_during_export_exits_130_with_one_line(tmp_path, tiny_ckpt):
    """Before: a 58-104-line traceback and status 1."""
    output = tmp_path / "out" / "model.onnx"
    process = subprocess.Popen(
        [sys.executable, "-m", "detect", "export", f"ckpt={tiny_ckpt}", f"output={output}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    time.sleep(6)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err[-3000:]
    one_error_line(process.returncode, err, "interrupted (Ctrl-C)")
    partial = [p for p in tmp_path.rglob("*") if p.name.endswith(".partial")]
    assert partial == [] and not output.exists()
