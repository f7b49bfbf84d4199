"""A command's config composed in-process (Hydra's compose API), as ``detect <command>`` would
compose it from the command line: for Python callers of :class:`detect.api.Model`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hydra import compose, initialize_config_module
from omegaconf import DictConfig

from detect.cli import resolvers  # noqa: F401  (registered before composing)

CONFIG_MODULE = "detect.conf"
# Under the command, Hydra's output directory is the run's; composed in-process there is none
RUN_DIR = "paths.run_dir=${runs_dir}/${run_name}"


def override(key: str, value: Any) -> str:
    """``key=value`` in Hydra's override grammar (None → null, bools lower case, lists and
    dicts as Hydra literals, strings quoted when they hold grammar characters)."""
    return f"{key}={literal(value)}"


def literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(literal(v) for v in value) + "]"
    text = str(value)
    if any(c in text for c in " ,[]{}()='\"\\:*?$"):
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return text


def compose_command(
    config: str, overrides: Sequence[str] = (), options: Mapping[str, Any] | None = None
) -> DictConfig:
    """``detect/conf/<config>.yaml`` with ``overrides`` (``key=value`` strings) and ``options``
    (``{key: value}``, dotted keys allowed); training's run directory is
    ``runs_dir/run_name``, as under the command."""
    given = [*overrides, *(override(k, v) for k, v in (options or {}).items())]
    if config == "train" and not any(o.startswith("paths.run_dir=") for o in given):
        given.append(RUN_DIR)
    with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
        return compose(config, overrides=given)
