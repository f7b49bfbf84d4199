"""``from detect import Detections`` is the result type alone: no torch, no backends."""

from __future__ import annotations

import subprocess
import sys


def test_the_result_type_imports_without_torch() -> None:
    script = (
        "import sys\n"
        "from detect import Detections\n"
        "d = Detections([[0, 0, 2, 2]], [0.9], [1], {1: 'person'})\n"
        "print(d.summary(), sorted(m for m in ('torch', 'onnxruntime', 'cv2') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    summary, loaded = done.stdout.strip().split(" [", 1)
    assert summary == "1 person"
    assert "torch" not in loaded and "onnxruntime" not in loaded


def test_every_lazy_name_is_exported_and_found() -> None:
    import detect.inference as inference

    assert sorted(inference.__all__) == sorted(inference.HOME_OF)
    for name in inference.__all__:
        assert getattr(inference, name).__name__ == name
