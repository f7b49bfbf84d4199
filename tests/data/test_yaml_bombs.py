"""A 380-byte data.yaml whose names fan out through nine levels of YAML aliases (10⁹ leaves):
refused in one line within seconds and a little memory, under a 6 GB address-space cap."""

from __future__ import annotations

import itertools
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from support.paths import PROJECT
from support.tools import ENV, assert_one_line_error

CAP = 6 << 30  # bytes of address space; torch alone maps about 4 GB of it


def alias_bomb(levels: int = 9, fan: int = 10) -> str:
    """``names`` = ``fan`` aliases of a list of ``fan`` aliases of … nine levels deep
    (``fan ** levels`` leaves), in a few hundred bytes."""
    anchors = "abcdefghijklmnop"[: levels - 1]
    lines = [f"{anchors[0]}: &{anchors[0]} [{','.join(['lol'] * fan)}]"]
    for previous, anchor in itertools.pairwise(anchors):
        lines.append(f"{anchor}: &{anchor} [{','.join([f'*{previous}'] * fan)}]")
    lines.append(f"names: [{','.join([f'*{anchors[-1]}'] * fan)}]")
    return "\n".join(lines) + "\ntrain: images\nval: images\n"


# The child reports its own peak RSS (VmHWM: this process image's, not the forked parent's,
# which ru_maxrss would include) as its last stderr line.
PEAK = (
    "import atexit, sys; atexit.register(lambda: print('VmHWM', [line for line in "
    "open('/proc/self/status') if line.startswith('VmHWM')][0].split()[1], file=sys.stderr))"
)


def capped(*argv: str, timeout: float) -> tuple[subprocess.CompletedProcess, float, float, float]:
    """``python argv…`` run under the address-space cap: (result, wall seconds, CPU seconds, its
    peak RSS in GB). CPU time is what the machine's load (other jobs) does not inflate."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CAP, CAP))

    command = [sys.executable, "-c", f"{PEAK}; {RUN}", *argv]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=PROJECT, env=ENV, stdout=out, stderr=err, text=True, preexec_fn=limit
        )
        watchdog = threading.Timer(timeout, process.kill)
        watchdog.start()
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        watchdog.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        result = subprocess.CompletedProcess(command, process.returncode, out.read(), err.read())
    assert seconds < timeout, f"killed after {timeout} s: {result.stderr[-2000:]}"
    peaks = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("VmHWM")]
    assert peaks, result.stderr[-2000:]
    return result, seconds, usage.ru_utime + usage.ru_stime, int(peaks[-1]) / 2**20  # KiB


# argv[0]: a script (.py) or a module (as python -m) to run as __main__
RUN = (
    "import runpy; sys.argv = sys.argv[1:]; (runpy.run_path if sys.argv[0].endswith('.py') "
    "else runpy.run_module)(sys.argv[0], run_name='__main__')"
)


@pytest.fixture
def bomb_set(tmp_path: Path) -> Path:
    (tmp_path / "images").mkdir()
    text = alias_bomb()
    assert len(text.encode()) < 420  # the file is 380 bytes
    (tmp_path / "data.yaml").write_text(text)
    return tmp_path


READER = """
import sys
from pathlib import Path
from detect.errors import DetectError
from detect.data.safe_yaml import load_yaml
from detect.data.schemas import yolo_data
file = Path(sys.argv[1])
try:
    yolo_data(load_yaml(file), file)  # what read_data_yaml does, without torch in the process
except DetectError as error:
    print(f"error: {error}")
    code = 1
else:
    code = 0
assert "torch" not in sys.modules
sys.exit(code)
"""


def test_the_reader_refuses_an_alias_fan_out_in_one_line(bomb_set, tmp_path):
    reader = tmp_path / "reader.py"
    reader.write_text(READER)
    result, seconds, cpu, peak = capped(str(reader), str(bomb_set / "data.yaml"), timeout=60)
    line = assert_one_line_error(result, "data.yaml", "alias")
    print(f"reader: {seconds:.2f} s ({cpu:.2f} s CPU), peak RSS {peak:.3f} GB: {line}")
    assert cpu < 10 and peak < 2


@pytest.mark.slow
def test_check_data_refuses_an_alias_fan_out_in_one_line(bomb_set):
    """The whole command (torch, Hydra and all) under the cap."""
    result, seconds, cpu, peak = capped(
        "detect",
        "check-data",
        "data=yolo",
        f"data.root={bomb_set}",
        f"report_dir={bomb_set / 'reports'}",
        timeout=120,
    )
    line = assert_one_line_error(result, "data.yaml", "alias")
    print(f"check-data: {seconds:.2f} s ({cpu:.2f} s CPU), peak RSS {peak:.3f} GB: {line}")
    assert cpu < 10 and peak < 2


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        (alias_bomb(levels=6, fan=8), "expand to more than"),  # 48 aliases, 8⁶ values
        ("a: &a [*a]\nnames: *a\n", "recursive"),
        ("names: " + "[" * 1_200 + "]" * 1_200 + "\n", "nested too deeply"),
        ("names: [a]\nwhen: 2024-13-45\n", "not readable YAML"),
    ],
)
def test_descriptors_are_read_within_bounds(tmp_path, text, phrase):
    from detect.data.safe_yaml import load_yaml
    from detect.errors import DatasetError

    file = tmp_path / "data.yaml"
    file.write_text(text)
    with pytest.raises(DatasetError, match=phrase) as caught:
        load_yaml(file)
    assert "\n" not in str(caught.value) and str(file) in str(caught.value)


def test_a_few_aliases_within_budget_still_load(tmp_path):
    from detect.data.safe_yaml import load_yaml

    file = tmp_path / "data.yaml"
    file.write_text("base: &base images\ntrain: *base\nval: *base\nnames: [a]\n")
    assert load_yaml(file) == {"base": "images", "train": "images", "val": "images", "names": ["a"]}
