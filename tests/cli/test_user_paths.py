"""An installed user's paths: the named data sets come from $DETECT_DATA, else the user's data
folder (never a folder beside a checkout), a missing one is an error naming both, and ``~`` in a
path setting is expanded by us (the shell leaves ``key=~/…`` alone)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf
from support.configs import compose_config
from support.tools import assert_one_line_error, run_tool

from detect.cli.home import expand_home
from detect.data.coco import CocoDetection
from detect.errors import DatasetError


@pytest.fixture
def user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A user with no DETECT_DATA and no XDG_DATA_HOME, whose home is ``tmp_path``."""
    monkeypatch.delenv("DETECT_DATA", raising=False)
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_named_data_sets_default_to_the_users_data_folder(user, monkeypatch):
    cfg = compose_config("eval", ["data=coco_subset"])
    assert cfg.paths.data == str(user / ".local" / "share" / "detect")
    assert cfg.data.root == str(user / ".local" / "share" / "detect" / "coco_subset")
    monkeypatch.setenv("XDG_DATA_HOME", str(user / "xdg"))
    assert compose_config("eval").paths.data == str(user / "xdg" / "detect")
    monkeypatch.setenv("DETECT_DATA", "~/sets")
    assert compose_config("bench").images_dir == str(user / "sets" / "coco_subset" / "val2017")


def test_no_default_points_beside_a_checkout():
    conf = Path(__file__).resolve().parents[2] / "detect" / "conf"
    beside = [
        f"{file.relative_to(conf)}:{number}"
        for file in sorted(conf.rglob("*.yaml"))
        for number, line in enumerate(file.read_text().splitlines(), 1)
        if "../shared" in line.split("#")[0]
    ]
    assert not beside, beside


def test_a_missing_named_data_set_names_detect_data_and_the_user_folder(user, monkeypatch):
    root = Path(compose_config("eval", ["data=coco_subset"]).data.root)
    with pytest.raises(DatasetError) as error:
        CocoDetection(root / "val2017", root / "annotations" / "instances_val2017.json")
    message = str(error.value)
    assert f"image folder not found: {root / 'val2017'}" in message
    assert "$DETECT_DATA (not set)" in message and str(user / ".local/share/detect") in message
    monkeypatch.setenv("DETECT_DATA", str(user / "elsewhere"))
    with pytest.raises(DatasetError, match=r"\$DETECT_DATA=\S+/elsewhere, else \S+/detect"):
        CocoDetection(user / "elsewhere" / "coco_subset" / "val2017", {})
    with pytest.raises(DatasetError) as error:  # a user's own folder: no talk of DETECT_DATA
        CocoDetection(user / "mine", {})
    assert "DETECT_DATA" not in str(error.value)


def test_a_leading_tilde_is_expanded_and_nothing_else(user):
    cfg = OmegaConf.create(
        {"hub": {"weights_path": "~/Downloads/x.pth"}, "runs": ["~/a", "b~"],
         "derived": "${hub.weights_path}", "ckpt": "???", "note": "a ~ b"}
    )  # fmt: skip
    expand_home(cfg)
    assert cfg.hub.weights_path == str(user / "Downloads" / "x.pth")
    assert list(cfg.runs) == [str(user / "a"), "b~"] and cfg.note == "a ~ b"
    assert OmegaConf.is_interpolation(cfg, "derived") and OmegaConf.is_missing(cfg, "ckpt")


@pytest.mark.slow
def test_the_command_expands_a_quoted_tilde(user):
    """As the docs write it: the override quoted for Hydra, ``'hub.weights_path="~/…"'``."""
    result = run_tool(
        "import_weights", 'hub.weights_path="~/Downloads/missing.pth"', env={"HOME": str(user)}
    )
    line = assert_one_line_error(result)
    assert line == f"error: weights file not found: {user}/Downloads/missing.pth (hub.weights_path)"
