"""Scale-out as docs/how-to/scale-out.md tells it: two torchrun "nodes" on 127.0.0.1 train one
run, survive one node's worker being SIGKILLed mid-epoch, and the SLURM template renders to the
same torchrun command."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.configs import compose_config
from support.mjpeg_server import free_port
from support.paths import PROJECT
from support.runs import validation_rows
from support.tools import ENV, output, run_tool

from detect.weights.checkpoint import read_checkpoint

MARKER = "<!-- scale-out: tests/training/test_scale_out.py runs the next command on two nodes -->"
SBATCH = PROJECT / "tools" / "slurm" / "train.sbatch"
STEPS_PER_EPOCH = 3  # debug=tiny: 24 images, global batch 8
EPOCHS = 2  # debug=tiny


def readme_command() -> tuple[dict[str, str], list[str]]:
    """The torchrun command the scale-out page gives: its leading ``VAR=value``
    assignments and its arguments (``torchrun`` first)."""
    text = (PROJECT / "docs" / "how-to" / "scale-out.md").read_text()
    block = text.split(MARKER, 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    words = shlex.split(block.replace("\\\n", " "))
    env = {}
    while "=" in words[0] and not words[0].startswith("-"):
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[0] == "torchrun", words
    return env, words


def options(words: list[str]) -> dict[str, str]:
    """``--name=value`` options before the script, by name."""
    script = next(i for i, word in enumerate(words) if word.endswith(".py"))
    return dict(word.split("=", 1) for word in words[1:script])


def children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_for(condition, agents: list[subprocess.Popen], what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline or any(agent.poll() is not None for agent in agents):
            raise AssertionError(f"{what} did not happen (agents: {[a.poll() for a in agents]})")
        time.sleep(0.01)


@pytest.mark.slow
def test_two_nodes_train_one_run_and_survive_a_killed_worker(tiny_shapes, tmp_path):
    """The page's command on two nodes: one run directory, each validation over the 9 val images
    once, node 1's worker SIGKILLed mid-epoch 2 → torchrun restarts both, resume=auto continues
    from last.ckpt, the run ends at exactly 2 × 3 steps and its checkpoint evaluates to the AP
    it logged; what was written before the kill is still there."""
    env, words = readme_command()
    words = [re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{free_port()}", word) for word in words[1:]]
    runs = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        *words,
        f"data.root={tiny_shapes}",
        f"runs_dir={runs}",
        "callbacks.last_checkpoint.every_n_train_steps=1",
        "callbacks.best_checkpoint.save_top_k=-1",  # keep every best: none may vanish
    ]
    run_dir = runs / "loopback"
    checkpoints = run_dir / "checkpoints"
    logs = [tmp_path / f"node{n}.log" for n in range(2)]
    agents = [
        subprocess.Popen(
            command,
            cwd=PROJECT,
            env={**ENV, **env},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for log in logs
    ]
    try:
        wait_for((checkpoints / "best-epoch000.ckpt").exists, agents, "the first validation")
        first = (checkpoints / "last.ckpt").stat().st_ino
        wait_for(
            lambda: (checkpoints / "last.ckpt").stat().st_ino != first, agents, "a step in epoch 2"
        )
        (worker,) = children(agents[1].pid)  # node 1's only worker
        os.kill(worker, signal.SIGKILL)
        printed = lambda: "resuming from" in "".join(log.read_text() for log in logs)  # noqa: E731
        wait_for(printed, agents, "the restart")
        before = {  # the killed workers are gone: what they wrote
            path: path.read_bytes()
            for path in run_dir.rglob("*")
            if path.is_file() and path.name != "last.ckpt" and ".hydra" not in path.parts
        }
        codes = [agent.wait(timeout=240) for agent in agents]
    finally:
        for agent in agents:
            if agent.poll() is None:
                os.killpg(agent.pid, signal.SIGKILL)
    text = "".join(log.read_text() for log in logs)
    assert codes == [0, 0], text[-4000:]
    assert f"failed (exitcode: -9) local_rank: 0 (pid: {worker})" in text  # torchrun saw it
    assert text.count("Initializing distributed: GLOBAL_RANK: 0") == 2  # and restarted, once

    resumed_at = r"resuming from \S+last\.ckpt \(epoch 1, global step (\d+)\)"
    (step,) = map(int, re.findall(resumed_at, text))
    assert STEPS_PER_EPOCH < step < EPOCHS * STEPS_PER_EPOCH  # mid-epoch 2
    final = read_checkpoint(checkpoints / "last.ckpt")
    assert final["global_step"] == EPOCHS * STEPS_PER_EPOCH  # the planned step, none repeated

    assert [p.name for p in runs.iterdir()] == ["loopback"]  # one run directory for both nodes
    assert (run_dir / "train.log").is_file() and (run_dir / "train_ddp_process_1.log").is_file()
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "best-epoch000.ckpt",
        "best-epoch001.ckpt",
        "last.ckpt",
    ]
    for path, content in before.items():  # checkpoints kept, logs only appended to
        assert path.read_bytes()[: len(content)] == content, path
    killed, resumed = validation_rows(run_dir, 0), validation_rows(run_dir, 1)
    assert [float(r["val/images"]) for r in killed + resumed] == [9.0, 9.0]  # once per epoch
    assert min(int(row["step"]) for row in resumed) > step

    # PyTorch, as the run validated: an AP near 0.001 moves with the order of near-tied scores,
    # which ONNX Runtime's float arithmetic may swap (its parity is tested on trained-like weights)
    evaluated = output(
        run_tool("eval", f"ckpt={checkpoints / 'last.ckpt'}", "backend=pytorch", check=True)
    )
    assert "9 images scored" in evaluated
    metrics = json.loads((run_dir / "eval" / "val" / "metrics.json").read_text())
    assert metrics["AP"] == pytest.approx(float(resumed[-1]["val/AP"]), abs=1e-4)


FAKE_SLURM = {  # stand-ins: srun records what it would start; scontrol lists two hosts
    "srun": 'printf "%s\\n" "$TORCH_DISABLE_SHARE_RDZV_TCP_STORE" "$@" > "$SRUN_RECORD"\n',
    "scontrol": 'printf "gpu-a\\ngpu-b\\n"\n',
}


def test_sbatch_template_renders_the_readme_command_for_the_job(tmp_path):
    """Under a 2-node, 8-GPU allocation the template starts one torchrun agent per node with
    the page's options, 8 workers each, the first node as rendezvous host, and a config that
    composes (GPU DDP over 2 × 8 devices, run_name from the job, resume=auto)."""
    header = re.findall(r"^#SBATCH (\S+)$", SBATCH.read_text(), flags=re.M)
    assert {"--nodes=2", "--ntasks-per-node=1", "--gpus-per-node=8"} <= set(header)
    fake = tmp_path / "bin"
    fake.mkdir()
    for name, body in FAKE_SLURM.items():
        (fake / name).write_text("#!/bin/bash\n" + body)
        (fake / name).chmod(0o755)
    record = tmp_path / "srun.txt"
    slurm = {
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_JOB_NODELIST": "gpu-[a-b]",
        "SLURM_GPUS_ON_NODE": "8",
        "SRUN_RECORD": str(record),
        "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}",
    }
    subprocess.run(
        ["bash", str(SBATCH), "trainer=ddp", "data=coco"],
        cwd=PROJECT,
        env={**os.environ, **slurm},
        check=True,
        timeout=30,
    )
    store, *words = record.read_text().splitlines()
    readme_env, readme = readme_command()
    assert (
        readme_env
        == {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": store}
        == {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}
    )
    assert words[0] == "torchrun" and options(words).keys() == options(readme).keys()
    assert options(words) == {
        "--nnodes": "2",
        "--nproc-per-node": "8",
        "--rdzv-backend": "c10d",
        "--rdzv-endpoint": "gpu-a:29500",
        "--rdzv-id": "4242",
        "--max-restarts": options(readme)["--max-restarts"],
    }
    script = words.index("tools/train.py")
    overrides = words[script + 1 :]
    assert {"run_name=slurm_4242", "resume=auto"} <= set(overrides)
    cfg = compose_config("train", overrides)
    assert (cfg.trainer.strategy, cfg.trainer.devices, cfg.trainer.num_nodes) == ("ddp", 8, 2)
    assert cfg.trainer.accelerator == "gpu" and cfg.data.format == "coco"


def test_readme_command_composes_a_cpu_ddp_run_over_two_nodes():
    _, words = readme_command()
    overrides = words[words.index("tools/train.py") + 1 :]
    cfg = compose_config("train", overrides)
    assert (cfg.trainer.accelerator, cfg.trainer.strategy) == ("cpu", "ddp")
    assert cfg.trainer.num_nodes == int(options(words)["--nnodes"]) == 2
    assert cfg.trainer.devices == int(options(words)["--nproc-per-node"]) == 1
    assert cfg.resume == "auto" and cfg.run_name == "loopback"
