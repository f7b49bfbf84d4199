"""The OmegaConf resolvers the packaged configs use, registered on import (before any config
is composed: ``detect/cli/main.py`` and ``compose.py`` import this module)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.resources import files

from omegaconf import OmegaConf

from detect.data.location import data_home


def launched_rank() -> int:
    """This process's global rank when torchrun (``RANK``) or srun (``SLURM_PROCID``) started
    it; 0 for a process started on its own (Lightning's launcher names its children itself)."""
    return int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", 0)))


def process_job_name(name: str) -> str:
    """Hydra's job name (and log file ``<name>.log``): rank > 0 logs beside rank 0 as
    ``<name>_ddp_process_<rank>.log``, as under Lightning's own launcher."""
    rank = launched_rank()
    return name if rank == 0 else f"{name}_ddp_process_{rank}"


def process_output_subdir(subdir: str) -> str | None:
    """Where Hydra saves the composed config: rank 0's ``.hydra/`` only (null: not saved)."""
    return subdir if launched_rank() == 0 else None


def used_groups(choices: Mapping[str, str | None]) -> str:
    """The help's "Configuration groups" section for the groups a command composes (its
    defaults list, as Hydra's ``runtime.choices`` has them), each with its options; empty
    when it composes none. Hydra's own $APP_CONFIG_GROUPS lists every group in the package,
    so ``detect eval --help`` offered optimizer, trainer and debug, which eval never reads."""
    conf = files("detect.conf")
    lines = []
    for key in sorted(choices):
        group = key.split("@")[0]
        if group == "hydra" or group.startswith("hydra/"):
            continue
        folder = conf / group
        options = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))
        lines.append(f"{group}: {', '.join(options)}")
    if not lines:
        return ""
    title = (
        "== Configuration groups ==\nCompose your configuration from those groups (group=option)"
    )
    return f"{title}\n\n" + "\n".join(lines) + "\n\n"


# conf/train.yaml's hydra node: one run directory shared by every process torchrun/srun starts
OmegaConf.register_new_resolver("process_job_name", process_job_name, replace=True)
OmegaConf.register_new_resolver("process_output_subdir", process_output_subdir, replace=True)
# conf/paths/default.yaml: where the named data sets are read from ($DETECT_DATA, else the user's)
OmegaConf.register_new_resolver("detect_data_home", lambda: str(data_home()), replace=True)
# conf/hydra/quiet.yaml's help template
OmegaConf.register_new_resolver("detect_used_groups", used_groups, replace=True)
