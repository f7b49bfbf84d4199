"""The resume policy: which checkpoint a run continues from, and the checks that refuse one whose
schedule this run cannot continue — both before any data is read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detect.errors import ConfigError
from detect.weights.checkpoint import CHECKPOINT_KEY, read_checkpoint

LAST = "last.ckpt"


def resume_checkpoint(
    run_dir: str | Path,
    runs_dir: str | Path,
    resume: bool | str = False,
    ckpt_path: str | Path | None = None,
) -> str | None:
    """The checkpoint to continue from: ``ckpt_path``; else with ``resume=True`` the run's
    ``run_dir/checkpoints/last.ckpt`` (refused by name when it is missing, naming the newest run
    under ``runs_dir`` that has one); with ``resume="auto"`` that file when it exists and a fresh
    start when not (what an elastic restart needs: the same command starts the run and continues
    it); with ``resume=False`` a fresh start."""
    if ckpt_path:
        return str(ckpt_path)
    if not (isinstance(resume, bool) or resume == "auto"):
        raise ConfigError(
            f"resume={resume}: choose true (continue run_name), false (a fresh run) or "
            "auto (continue run_name if it has a last.ckpt, else start it)"
        )
    last = Path(run_dir) / "checkpoints" / LAST
    if resume is False or (resume == "auto" and not last.is_file()):
        return None
    if not last.is_file():
        runs = sorted(Path(runs_dir).glob(f"*/checkpoints/{LAST}"), key=lambda p: p.stat().st_mtime)
        hint = f"; the newest is run_name={runs[-1].parent.parent.name}" if runs else ""
        raise ConfigError(
            f"resume=true but {last} does not exist: pass the run_name of the run to continue "
            f"(its directory under {runs_dir}/){hint}, resume=auto to start it when it has "
            "none, or ckpt_path=<file>"
        )
    return str(last)


def check_resume(ckpt_path: str | Path, batch_size: int, max_epochs: int | None) -> dict[str, Any]:
    """Read the checkpoint (refused by name if it is not a plain detect checkpoint) and refuse a
    schedule it cannot continue: another global ``batch_size`` (an epoch would change its
    steps), or ``max_epochs`` fewer than it has already run. More epochs extend the run (the
    schedule is re-planned from the current step); None or ≤ 0 is not checked. Returns the raw
    checkpoint."""
    raw = read_checkpoint(ckpt_path)
    meta = raw[CHECKPOINT_KEY]
    stored = meta.get("run_config", {})
    then_batch = stored.get("loader", {}).get("batch_size")
    if then_batch is not None and then_batch != batch_size:
        raise ConfigError(
            f"{ckpt_path} was trained with loader.batch_size={then_batch}, this config has "
            f"{batch_size}: resume with the same batch size (or start a new run)"
        )
    then_epochs = stored.get("trainer", {}).get("max_epochs")
    steps, total = int(raw.get("global_step", 0)), meta.get("total_steps")
    if then_epochs and total and max_epochs and max_epochs > 0:
        planned = total * max_epochs // then_epochs
        if planned < steps:
            raise ConfigError(
                f"{ckpt_path} is at step {steps} (epoch {raw.get('epoch', 0)}); "
                f"trainer.max_epochs={max_epochs} plans only {planned} steps: resume with at "
                f"least {-(-steps * then_epochs // total)} epochs (or start a new run)"
            )
    return raw
