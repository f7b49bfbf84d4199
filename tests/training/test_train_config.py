"""The training config composes for every group option and trains (fast_dev_run) on the CPU."""

from __future__ import annotations

import pytest
import torch
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf.errors import ConfigAttributeError, ConfigKeyError
from support.configs import compose_config, tiny
from support.tools import assert_one_line_error, run_tool

from detect.cli.resolvers import process_job_name, process_output_subdir
from detect.cli.train import build, train
from detect.models import ssdlite
from detect.models.factory import build_detector

BACKBONES = ("v1", "v2", "v3_large", "v3_small")


@pytest.mark.parametrize("backbone", BACKBONES)
def test_every_backbone_composes_and_runs_fast_dev_run(backbone, tiny_shapes, tmp_path):
    cfg = compose_config(
        "train", tiny(tiny_shapes, tmp_path, f"backbone={backbone}", "+trainer.fast_dev_run=1")
    )
    assert cfg.model.backbone.name == backbone and cfg.model.backbone.width_mult == 0.25
    metrics = train(cfg)
    assert set(metrics) >= {"val/AP", "val/AP50", "val/AP75", "val/APs", "val/APm", "val/APl"}
    assert metrics["val/images"] == 4  # fast_dev_run: one validation batch of 4


def test_backbone_width_and_size_overrides_reach_the_model():
    cfg = compose_config("train", ["backbone=v2", "backbone.width_mult=0.5", "model.size=384"])
    model = build_detector(cfg.model, num_classes=4)
    direct = ssdlite("v2", 0.5, num_classes=4, size=384, init="normal")
    assert model.size == 384
    assert count(model) == count(direct) != count(ssdlite("v2", 1.0, num_classes=4))
    torch.testing.assert_close(model.anchors, direct.anchors)
    bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert (bn.eps, bn.momentum) == (0.001, 0.03)  # SSDLite's BN for any backbone


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_experiment_is_torchvisions_recipe():
    cfg = compose_config("train", ["experiment=ssdlite320_v3_large_coco"])
    assert cfg.model.backbone.name == "v3_large" and cfg.model.backbone.reduced_tail
    assert cfg.model.size == 320 and cfg.data.root == "data/coco"
    assert cfg.loader.batch_size == 192
    assert (cfg.optimizer.lr, cfg.optimizer.momentum, cfg.optimizer.weight_decay) == (
        0.15,
        0.9,
        4e-5,
    )
    assert cfg.trainer.max_epochs == 660 and cfg.trainer.strategy == "ddp"
    assert cfg.model.head.init == "normal" and cfg.model.head.bn_momentum == 0.03
    assert cfg.callbacks.ema is None  # torchvision's recipe has no EMA
    model = build_detector(cfg.model, num_classes=91)
    assert count(model) == 3_440_060  # torchvision's figure


def test_unknown_key_and_option_fail_with_hydras_message():
    with pytest.raises(ConfigCompositionException, match=r"backbone\.widht_mult"):
        compose_config("train", ["backbone.widht_mult=0.5"])
    with pytest.raises(MissingConfigException, match="v3_small"):  # lists the valid options
        compose_config("train", ["backbone=v9"])
    cfg = compose_config("train", [])
    with pytest.raises((ConfigAttributeError, ConfigKeyError)):
        _ = cfg.model.no_such_key


def test_processes_started_by_torchrun_share_the_run_directory(monkeypatch):
    """Rank 0 writes train.log and .hydra/; rank N logs to train_ddp_process_N.log beside it."""
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    monkeypatch.delenv("RANK", raising=False)
    assert (process_job_name("train"), process_output_subdir(".hydra")) == ("train", ".hydra")
    monkeypatch.setenv("SLURM_PROCID", "3")  # srun alone
    assert process_job_name("train") == "train_ddp_process_3"
    monkeypatch.setenv("RANK", "1")  # torchrun (under srun too): its global rank wins
    assert (process_job_name("train"), process_output_subdir(".hydra")) == (
        "train_ddp_process_1",
        None,
    )


@pytest.mark.slow
def test_torchrun_without_a_run_name_is_refused(tmp_path):
    """Each process would otherwise time-stamp its own run directory."""
    result = run_tool(
        "train",
        f"runs_dir={tmp_path}",
        "data=coco",
        "data.root=/no",
        env={"TORCHELASTIC_RUN_ID": "x"},
    )
    assert_one_line_error(result, "without run_name=", "run_name=my_run")


def test_warmup_counts_epochs_of_batches_even_when_max_steps_ends_the_run(tiny_shapes, tmp_path):
    overrides = tiny(tiny_shapes, tmp_path, "trainer.max_epochs=40", "+trainer.max_steps=4")
    run = build(compose_config("train", [*overrides, "schedule.warmup_epochs=1"]))
    run.trainer.fit(run.module, datamodule=run.datamodule)
    scheduler = run.trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.lr_lambdas[0].warmup == 3  # 24 images / batch 8 = 3 steps per epoch


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (trainer=gpu: AMP)")
def test_gpu_trainer_with_mixed_precision_runs(tiny_shapes, tmp_path):
    cfg = compose_config(
        "train", tiny(tiny_shapes, tmp_path, "trainer=gpu", "+trainer.fast_dev_run=1")
    )
    assert cfg.trainer.precision == "16-mixed"
    metrics = train(cfg)
    assert metrics["val/images"] == 4
