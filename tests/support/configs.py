"""Composed Hydra configs, as the tools compose them (``conf/``), for in-process tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from detect.cli import resolvers  # noqa: F401  (the configs' resolvers, as the command has them)
from support.paths import CONF_DIR

RUN_DIR = "paths.run_dir=${runs_dir}/${run_name}"


def compose_config(
    name: str, overrides: Sequence[str] = (), config_dir: Path = CONF_DIR
) -> DictConfig:
    """``conf/<name>.yaml`` (or ``<config_dir>/<name>.yaml``) with ``overrides``; for ``train``,
    the run directory (Hydra's output directory under the tool) is ``runs_dir/run_name``, as
    ``tools/train.py`` makes it."""
    given = any(o.startswith("paths.run_dir=") for o in overrides)
    extra = [RUN_DIR] if name == "train" and not given else []
    with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
        return compose(name, overrides=[*overrides, *extra])


def tiny(shapes: Path, runs: Path, *more: str) -> list[str]:
    """Overrides for a seconds-long training run (``debug=tiny``) on the shapes set at
    ``shapes`` (see the ``tiny_shapes`` fixture), writing under ``runs``."""
    return ["debug=tiny", f"data.root={shapes}", f"runs_dir={runs}", *more]
