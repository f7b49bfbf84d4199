"""``detect bench``: its config → :func:`detect.evaluation.bench.bench`, the table printed and
the json written. ``python tools/bench.py`` (the checkout's ``benchmarks/latency.py``) takes the
same keys and adds torchvision beside ours; its own keys are refused here, by name."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from detect.errors import ConfigError
from detect.evaluation.backend_runners import Backends
from detect.evaluation.bench import BenchReport, bench
from detect.evaluation.bench_report import format_report
from detect.weights.hub import HubConfig


def bench_arguments(cfg: DictConfig) -> dict[str, Any]:
    """:func:`~detect.evaluation.bench.bench`'s arguments from the keys both bench configs have."""
    return {
        "backbones": list(cfg.backbones),
        "widths": list(cfg.widths),
        "sizes": list(cfg.sizes),
        "reduced_tail": cfg.reduced_tail,
        "ckpt": cfg.ckpt,
        "device": cfg.device,
        "num_threads": cfg.threads,
        "batch_size": cfg.batch_size,
        "warmup": cfg.warmup,
        "runs": cfg.runs,
        "images_dir": cfg.images_dir,
        "seed": cfg.seed,
        "backends": Backends(
            list(cfg.backends), cfg.calibration_dir, cfg.calibration_images, cfg.spin
        ),
        "hub": HubConfig(**cfg.hub),
        "score_thresh": cfg.get("score_thresh"),  # the peer benchmark's config may lack it
    }


def refuse_peer_options(cfg: DictConfig) -> None:
    """torchvision beside ours (``compare_torchvision``, ``weights=trained_like``) is the peer
    benchmark's, which the installed package does not ship."""
    asked = ["compare_torchvision=true"] if cfg.compare_torchvision else []
    if cfg.weights != "untrained":
        asked.append(f"weights={cfg.weights}")
    if asked:
        options = " ".join(asked)
        raise ConfigError(
            f"{options}: torchvision's SSDLite beside ours is a peer benchmark, not part of the "
            f"installed package; run `python tools/bench.py {options} …` from a checkout of the "
            "repository (detect bench times our backends only)"
        )


def print_report(report: BenchReport, cfg: DictConfig, table: str) -> None:
    """The run's settings, then ``table``; the report written to ``cfg.output``."""
    settings = report.settings
    print(
        f"{settings['device']} ({settings['device_name']}), {cfg.threads} threads, batch "
        f"{cfg.batch_size}; images: {settings['images']}; {cfg.warmup} warm-up + "
        f"{cfg.runs} timed runs per model; score threshold {settings.get('score_thresh')}\n"
    )
    print(table)
    report.to_json(cfg.output)
    print(f"\nwritten to {cfg.output}")


def run_bench(cfg: DictConfig) -> BenchReport:
    """``detect bench``: time our backends, print the table, write the json."""
    refuse_peer_options(cfg)
    report = bench(**bench_arguments(cfg))
    print_report(report, cfg, format_report(report))
    return report
