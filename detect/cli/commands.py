"""The subcommands of ``detect``: one per tool, each a config in ``detect/conf`` and the function
that runs it. Targets are imported only when their command runs, so ``detect --help`` is quick."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from detect.cli.home import expand_home


@dataclass(frozen=True)
class Command:
    """``detect <name> key=value …``: ``config`` composed from ``detect/conf``, then
    ``target`` (``module:function``) called with it."""

    name: str
    config: str
    target: str
    summary: str

    def function(self) -> Callable[[DictConfig], Any]:
        module, name = self.target.split(":")
        return getattr(importlib.import_module(module), name)

    def task(self) -> Callable[[DictConfig], Any]:
        """The function, imported when first called (``--help`` answers before torch and
        Lightning load). Hydra names the job after ``__module__``."""

        def run(cfg: DictConfig) -> Any:
            expand_home(cfg)  # hub.weights_path="~/…": the shell did not expand it
            return self.function()(cfg)

        run.__module__ = self.target.split(":")[0]
        return run


COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        Command("train", "train", "detect.cli.train:run_train", "train SSDLite on a MobileNet"),
        Command("eval", "eval", "detect.cli.eval:run_eval", "COCO mAP of a model, with a report"),
        Command(
            "predict",
            "predict",
            "detect.cli.predict:run_detect",
            "detect on images, videos, webcams, streams",
        ),
        Command("export", "export", "detect.cli.export:run_export", "write ONNX / LiteRT, checked"),
        Command(
            "serve", "serve", "detect.cli.serve:run_serve", "HTTP detection, live streams, a page"
        ),
        Command("bench", "bench", "detect.cli.bench:run_bench", "latency per backend, cost, floor"),
        Command(
            "serve-web",
            "serve_web",
            "detect.cli.serve_web:run_serve_web",
            "serve a browser export, threads enabled",
        ),
        Command(
            "check-data",
            "check_dataset",
            "detect.cli.check_dataset:run_check_dataset",
            "what a dataset holds and what training would skip",
        ),
        Command(
            "import-weights",
            "import_weights",
            "detect.cli.import_weights:run_import",
            "published weights → a detect checkpoint",
        ),
        Command(
            "eval-tracking",
            "eval_tracking",
            "detect.cli.eval_tracking:run_eval_tracking",
            "MOTA / IDF1 and counts against ground truth",
        ),
        Command(
            "synth-video",
            "synth_video",
            "detect.cli.synth_video:run_synth_video",
            "a moving-shapes clip with exact ground truth",
        ),
        Command(
            "summary",
            "summary",
            "detect.cli.summary:run_summary",
            "one backbone's layers, taps and cost",
        ),
        Command("cost", "cost", "detect.cli.summary:run_cost", "params / MAdds of many backbones"),
        Command(
            "bench-video",
            "bench_video",
            "detect.benchmarks.video:run_bench_video",
            "the video pipeline's overlap and memory",
        ),
        Command(
            "bench-tracking",
            "bench_tracking",
            "detect.benchmarks.tracking:run_bench_tracking",
            "tracking and counting against exact truth",
        ),
        Command("pareto", "pareto", "detect.cli.pareto:run_pareto", "mAP against latency, plotted"),
        Command(
            "prepare-coco",
            "prepare_coco",
            "detect.cli.prepare_coco:run_prepare_coco",
            "download and unpack COCO 2017",
        ),
    )
}
