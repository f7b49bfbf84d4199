"""tools/gpu_check.py: a CUDA machine checked end to end in one command of a few minutes.

The parts, each printed when it ends, reuse the benchmarks rather than timing anything anew:

1. ``training``: AMP images/s of our Lightning loop against a bare AMP PyTorch loop over
   torchvision's SSDLite on the same weights and batches (:func:`.training.compare_training`);
2. ``latency batch N``: the latency of each backend (PyTorch, compiled, ONNX Runtime's CUDA
   provider when onnxruntime-gpu is installed) beside torchvision's, one batch of N
   (:func:`.latency.bench`);
3. ``fast_dev_run``: ``tools/train.py trainer=gpu debug=tiny`` (AMP) for one batch;
4. ``SyncBN``: the same under ``trainer=ddp trainer.devices=1`` (SyncBN over NCCL).

Each part reports the peak GPU memory it allocated. Without CUDA (or ``dry=true``) the check runs
dry: the same parts at their ``dry`` sizes on the CPU, in float32, with the CUDA-only pieces
(AMP, the compiled and CUDA backends, SyncBN's forward) skipped — which it says, once.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import onnxruntime
import torch
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf
from torch import nn

from benchmarks.latency import bench
from benchmarks.latency_report import format_report
from benchmarks.training import compare_training, format_comparison
from detect.cli.compose import RUN_DIR
from detect.cli.train import build
from detect.evaluation.backend_runners import Backends
from detect.export.runtime import CUDA_PROVIDER
from detect.training.speed import SpeedConfig

CUDA_ONLY = "compiled backends, ONNX Runtime CUDA, AMP, SyncBN's forward"


@dataclass
class Part:
    """One part of the check: what it printed, how long it took, its peak GPU memory."""

    name: str
    text: str
    seconds: float
    peak_gpu_mib: float | None


def peak_memory_mib(cuda: bool) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if cuda else None


def timed_part(name: str, cuda: bool, run: Callable[[], str]) -> Part:
    """Run one part from a clean peak-memory counter and print it."""
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    text = run()
    part = Part(name, text, time.perf_counter() - start, peak_memory_mib(cuda))
    memory = "" if part.peak_gpu_mib is None else f", peak GPU memory {part.peak_gpu_mib:.0f} MiB"
    print(f"\n## {name} ({part.seconds:.1f} s{memory})\n\n{text}", flush=True)
    return part


def training_part(cfg: DictConfig, sizes: DictConfig, cuda: bool) -> str:
    model = {**OmegaConf.to_container(cfg.model, resolve=True), "size": sizes.size}
    comparison = compare_training(
        model,
        threads=cfg.threads,
        speed=SpeedConfig(**cfg.speed),
        device="cuda" if cuda else "cpu",
        amp=cuda,
        **sizes.train,
    )
    return format_comparison(comparison, cfg.min_ratio)


def latency_part(cfg: DictConfig, sizes: DictConfig, batch_size: int, cuda: bool) -> str:
    names = list(cfg.backends)
    if not cuda:
        names = [name for name in names if name == "pytorch" or name == "onnxruntime"]
    elif CUDA_PROVIDER not in onnxruntime.get_available_providers():
        names = [name for name in names if not name.startswith("onnxruntime")]
    report = bench(
        backbones=[cfg.backbone.name],
        widths=[cfg.backbone.width_mult],
        sizes=[sizes.size],
        reduced_tail=cfg.backbone.reduced_tail,
        device="cuda" if cuda else "cpu",
        num_threads=cfg.threads,
        batch_size=batch_size,
        images_dir=None,
        backends=Backends(names),
        **sizes.latency,
    )
    skipped = sorted(set(cfg.backends) - set(names))
    note = f"\nnot run here: {', '.join(skipped)}" if skipped else ""
    return format_report(report) + note


def train_config(overrides: list[str]) -> DictConfig:
    """detect's ``train`` config (``detect/conf``) with ``overrides``. This app's search path is
    ``benchmarks/conf``, and a ``hydra.searchpath`` override cannot widen it for ``compose``
    (Hydra caches the primary config's miss before it applies the override), so ``train`` is
    composed in a Hydra context of its own, this app's restored after it."""
    global_hydra = GlobalHydra.instance()
    app = global_hydra.hydra
    global_hydra.clear()
    try:
        with initialize_config_module("detect.conf", version_base="1.3"):
            return compose("train", overrides)
    finally:
        global_hydra.clear()
        if app is not None:
            global_hydra.initialize(app)


def train_overrides(cfg: DictConfig, work: Path, *more: str) -> list[str]:
    """A one-batch ``debug=tiny`` run writing under ``work``."""
    return [
        "debug=tiny",
        f"data.root={work / 'shapes_tiny'}",
        f"runs_dir={work / 'runs'}",
        "run_name=gpu_check",
        RUN_DIR,  # not the app's output directory (the current one)
        "+trainer.fast_dev_run=1",
        *more,
    ]


def fast_dev_run_part(cfg: DictConfig, work: Path, cuda: bool) -> str:
    trainer = "trainer=gpu" if cuda else "trainer=cpu"
    run = build(train_config(train_overrides(cfg, work, trainer)))
    run.trainer.fit(run.module, datamodule=run.datamodule)
    loss = float(run.trainer.callback_metrics["train/loss"])
    if not torch.isfinite(torch.tensor(loss)):
        raise RuntimeError(f"the fast_dev_run's loss is {loss}")
    return (
        f"{trainer}: one training and one validation batch, precision {run.trainer.precision}, "
        f"train/loss {loss:.4f}, val/images {int(run.trainer.callback_metrics['val/images'])}"
    )


def syncbn_part(cfg: DictConfig, work: Path, cuda: bool) -> str:
    if not cuda:  # build the module and convert it; SyncBN runs on GPUs only
        run = build(train_config(train_overrides(cfg, work, "trainer=cpu")))
        converted = nn.SyncBatchNorm.convert_sync_batchnorm(run.module.model)
        layers = sum(isinstance(m, nn.SyncBatchNorm) for m in converted.modules())
        return f"{layers} BatchNorm layers convert to SyncBatchNorm; its forward needs CUDA"
    overrides = train_overrides(cfg, work, "trainer=ddp", "trainer.devices=1")
    run = build(train_config(overrides))
    run.trainer.fit(run.module, datamodule=run.datamodule)
    layers = sum(isinstance(m, nn.SyncBatchNorm) for m in run.module.modules())
    if layers == 0:
        raise RuntimeError("trainer=ddp ran without SyncBatchNorm layers")
    loss = float(run.trainer.callback_metrics["train/loss"])
    backend = run.trainer.strategy.process_group_backend
    return (
        f"trainer=ddp trainer.devices=1 (sync_batchnorm, {backend}): {layers} SyncBatchNorm "
        f"layers, one batch, train/loss {loss:.4f}"
    )


def run_gpu_check(cfg: DictConfig) -> list[Part]:
    """tools/gpu_check.py: every part, printed as it ends, then the json."""
    Backends(list(cfg.backends))  # an unknown backend stops here, before any part runs
    cuda = torch.cuda.is_available() and not cfg.dry
    sizes = cfg.cuda if cuda else cfg.dry_run
    if cuda:
        print(f"CUDA: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    else:
        print(
            "CUDA is not available (or dry=true): a dry run on the CPU at small sizes, float32; "
            f"skipped: {CUDA_ONLY}"
        )
    start = time.perf_counter()
    parts: list[Part] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        parts.append(timed_part("training", cuda, lambda: training_part(cfg, sizes, cuda)))
        for batch in sizes.latency_batch_sizes:
            run = lambda batch=batch: latency_part(cfg, sizes, batch, cuda)  # noqa: E731
            parts.append(timed_part(f"latency batch {batch}", cuda, run))
        parts.append(timed_part("fast_dev_run", cuda, lambda: fast_dev_run_part(cfg, work, cuda)))
        parts.append(timed_part("SyncBN", cuda, lambda: syncbn_part(cfg, work, cuda)))
    total = time.perf_counter() - start
    print(f"\ngpu check done in {total:.0f} s ({'CUDA' if cuda else 'dry, CPU'})")
    output = Path(cfg.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    report = {"cuda": cuda, "seconds": total, "parts": [asdict(part) for part in parts]}
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {output}")
    return parts
