"""Whole training runs as users start them: resume state, faults, kill -9, DDP, real COCO."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from support.configs import compose_config, tiny
from support.paths import COCO_SUBSET, TOOLS, needs_real_data
from support.runs import validation_rows
from support.tools import ENV, output, run_tool

from detect.cli.train import build
from detect.errors import ConfigError
from detect.training.module import NonFiniteLossError
from detect.weights.checkpoint import load_checkpoint, read_checkpoint


def train_tool(*overrides: str) -> str:
    return output(run_tool("train", *overrides, check=True))


def eval_tool(*overrides: str) -> str:
    return output(run_tool("eval", *overrides, check=True))


class StopAfterFirstEpoch(Callback):
    """Ends a fit after its first epoch, as an interruption would."""

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        trainer.should_stop = True


class RecordStart(Callback):
    """Remembers the step and optimizer state the fit starts from."""

    def on_train_start(self, trainer, pl_module) -> None:
        self.global_step = trainer.global_step
        self.optimizer_state = copy.deepcopy(trainer.optimizers[0].state_dict())


@pytest.mark.slow
def test_resume_restores_step_optimizer_and_ema(tiny_shapes, tmp_path):
    overrides = tiny(tiny_shapes, tmp_path, "run_name=r")
    first = build(compose_config("train", overrides))
    first.trainer.callbacks.append(StopAfterFirstEpoch())
    first.trainer.fit(first.module, datamodule=first.datamodule)
    saved = read_checkpoint(tmp_path / "r" / "checkpoints" / "last.ckpt")
    run = build(compose_config("train", [*overrides, "resume=true"]))
    start = RecordStart()
    run.trainer.callbacks.append(start)
    run.trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=run.ckpt_path)
    assert start.global_step == saved["global_step"] == 3
    restored, stored = start.optimizer_state["state"], saved["optimizer_states"][0]["state"]
    assert restored.keys() == stored.keys() and len(restored) > 100
    for index in restored:  # AdamW's step count and both moment estimates, every parameter
        assert restored[index].keys() == {"step", "exp_avg", "exp_avg_sq"}
        for name, value in restored[index].items():
            torch.testing.assert_close(value, stored[index][name], rtol=0, atol=0)
    assert run.trainer.global_step == 6
    final = read_checkpoint(tmp_path / "r" / "checkpoints" / "last.ckpt")
    assert final["global_step"] == 6 and final["averaging_state"]["n_averaged"] == 6
    with pytest.raises(ConfigError, match=r"loader\.batch_size=8, this config has 4"):
        build(compose_config("train", [*overrides, "resume=true", "loader.batch_size=4"]))
    mid_run = read_checkpoint(next((tmp_path / "r" / "checkpoints").glob("best-*.ckpt")))
    ema, raw = mid_run["state_dict"], mid_run["current_model_state"]
    assert ema.keys() == raw.keys()  # the saved weights are the EMA's, the raw ones ride along
    assert any(not torch.equal(ema[k], raw[k]) for k in ema if ema[k].is_floating_point())


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["stop", "skip"])
def test_nonfinite_loss_stops_naming_the_step_or_is_skipped(policy, tiny_shapes, tmp_path):
    run = build(compose_config("train", tiny(tiny_shapes, tmp_path, f"on_nonfinite_loss={policy}")))
    loss, calls, snapshots = run.module.model.loss, [], []

    def poisoned(outputs, targets):
        calls.append(1)
        if len(calls) in (2, 3):  # weights before and after the poisoned batch
            snapshots.append([p.detach().clone() for p in run.module.model.parameters()])
        losses = loss(outputs, targets)
        if len(calls) == 2:
            losses["classification"] = losses["classification"] * float("nan")
        return losses

    run.module.model.loss = poisoned
    if policy == "stop":
        with pytest.raises(NonFiniteLossError, match=r"at step 1 \(epoch 0, batch 1\)"):
            run.trainer.fit(run.module, datamodule=run.datamodule)
        return
    run.trainer.fit(run.module, datamodule=run.datamodule)
    assert run.module.skipped_batches == 1 and len(calls) == 6
    assert all(torch.equal(a, b) for a, b in zip(*snapshots, strict=True))  # no update
    assert all(torch.isfinite(p).all() for p in run.module.parameters())


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_step_and_finishes(tiny_shapes, tmp_path):
    """SIGKILL mid-epoch (after the step-2 checkpoint of a 6-steps-per-epoch run), resume."""
    overrides = tiny(
        tiny_shapes,
        tmp_path,
        "data.generation.num_train=48",  # 6 steps per epoch
        "trainer.max_epochs=3",
        "callbacks.last_checkpoint.every_n_train_steps=2",
        "run_name=killed",
    )
    run_dir = tmp_path / "killed"
    last = run_dir / "checkpoints" / "last.ckpt"
    process = subprocess.Popen(
        [sys.executable, str(TOOLS / "train.py"), *overrides],
        cwd=TOOLS.parent,
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while not last.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    before = read_checkpoint(last)  # loads: never half-written
    assert 2 <= before["global_step"] < 18
    written_before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p != last}

    resumed = train_tool(*overrides, "resume=true")
    assert f"global step {before['global_step']})" in resumed
    after = read_checkpoint(last)
    assert after["global_step"] == 18  # 3 epochs × 6 steps: no step lost or repeated
    for path, content in written_before.items():  # logs, config, events of the killed run
        if path.suffix != ".ckpt" and path.name not in (
            "config.yaml",
            "overrides.yaml",
            "hydra.yaml",
        ):
            assert path.read_bytes()[: len(content)] == content, path
    steps = [int(row["step"]) for row in validation_rows(run_dir, version=1)]
    assert steps and min(steps) > before["global_step"]


@pytest.mark.slow
def test_ddp_two_cpu_processes_validate_each_image_once(tiny_shapes, tmp_path):
    """9 val images over 2 ranks (the sampler pads one repeat): mAP over exactly the 9, and
    equal to evaluating the saved checkpoint in one process."""
    train_tool(
        *tiny(tiny_shapes, tmp_path),
        "run_name=ddp",
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=2",
        "trainer.precision=32-true",
        "trainer.sync_batchnorm=false",
        "trainer.benchmark=null",
    )
    run_dir = tmp_path / "ddp"
    rows = validation_rows(run_dir)
    assert [float(row["val/images"]) for row in rows] == [9.0, 9.0]
    assert [p.name for p in tmp_path.iterdir()] == ["ddp"]  # one run directory, not per rank
    assert (run_dir / "train_ddp_process_1.log").is_file()  # rank 1 logs beside rank 0
    evaluated = eval_tool(f"ckpt={run_dir / 'checkpoints' / 'last.ckpt'}")
    assert "9 images scored" in evaluated
    metrics = json.loads((run_dir / "eval" / "val" / "metrics.json").read_text())
    assert metrics["AP"] == pytest.approx(float(rows[-1]["val/AP"]), abs=1e-4)


@pytest.mark.slow
@needs_real_data
def test_coco_subset_trains_and_the_checkpoint_evaluates_to_the_logged_map(tmp_path):
    train_tool(
        "data=coco_subset",
        f"runs_dir={tmp_path}",
        "run_name=coco",
        "model.size=160",
        "loader.batch_size=16",
        "loader.num_workers=1",
        "trainer.max_epochs=1",
        "trainer.check_val_every_n_epoch=1",
        "+trainer.limit_train_batches=3",
        "trainer.enable_progress_bar=false",
    )
    run_dir = tmp_path / "coco"
    (logged,) = validation_rows(run_dir)
    assert float(logged["val/images"]) == 158
    best = next((run_dir / "checkpoints").glob("best-*.ckpt"))
    assert load_checkpoint(best).categories.num_classes == 81
    evaluated = eval_tool(f"ckpt={best}", "data=coco_subset", f"data.root={COCO_SUBSET}")
    assert "158 images scored" in evaluated
    metrics = json.loads((run_dir / "eval" / "val" / "metrics.json").read_text())
    for name in ("AP", "AP50", "AP75"):
        assert metrics[name] == pytest.approx(float(logged[f"val/{name}"]), abs=1e-4)
    detections = json.loads((run_dir / "eval" / "val" / "detections.json").read_text())
    assert {d["category_id"] for d in detections} <= set(range(1, 91))


@pytest.mark.slow
def test_multirun_sweep_gives_one_directory_per_job(tiny_shapes, tmp_path):
    swept = train_tool(
        "-m", "backbone=v2,v3_small", *tiny(tiny_shapes, tmp_path), "+trainer.fast_dev_run=1"
    )
    (sweep,) = (tmp_path / "multirun").iterdir()
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == ["0_v2_x0.25_96px", "1_v3_small_x0.25_96px"]
    assert swept.count("done: AP") == 2
