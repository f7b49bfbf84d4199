"""A command line checked before the command's function (and torch with it, 5–10 s) is
imported: a misspelt key, a mandatory value left out or an unknown export format is answered
in half a second, in one ``error:`` line that lists what would have worked."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from hydra import compose, initialize_config_module
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from detect.cli.commands import Command
from detect.export.formats import EXPORT_FORMATS

CONFIG_MODULE = "detect.conf"
HYDRA_RUN = True  # the line is Hydra's to read (flags, sweeps, group options it lists itself)


def preflight(command: Command, overrides: Sequence[str]) -> str | bool:
    """An error line for ``overrides``, or ``HYDRA_RUN`` when the line is left to Hydra's run
    (which then reports what composition refused, without the function imported), or
    ``False`` when Hydra must compose it once more to report its own message."""
    if any(override.startswith("-") for override in overrides):
        return HYDRA_RUN
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
        if any(override.is_sweep_override() for override in parsed):
            return HYDRA_RUN
        with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
            cfg = compose(command.config, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        unknown = unknown_key(error)
        if unknown is None:
            return False  # a group option or a value Hydra's own message explains
        return unknown_key_line(command, overrides, unknown)
    return missing_value_line(command, cfg) or format_line(command, cfg) or HYDRA_RUN


def unknown_key(error: BaseException) -> str | None:
    """The dotted key a composition refused as unknown, if that is what it refused."""
    cause = error.__cause__ or error.__context__
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) and "not in struct" in str(cause):
        return str(cause.full_key) if cause.full_key else None
    return None


def unknown_key_line(command: Command, overrides: Sequence[str], key: str) -> str:
    """``key`` is not one of its level's keys: those keys, the closest first."""
    parent, _, name = key.rpartition(".")
    given = [o for o in overrides if not o.split("=", 1)[0].lstrip("+~").startswith(key)]
    with initialize_config_module(CONFIG_MODULE, version_base="1.3"):
        node = compose(command.config, overrides=given)
    for part in parent.split(".") if parent else []:
        node = node.get(part) if isinstance(node, DictConfig) else None
    keys = [str(k) for k in node] if isinstance(node, DictConfig) else []
    close = difflib.get_close_matches(name, keys, n=1)
    hint = f"did you mean {parent + '.' if parent else ''}{close[0]}? " if close else ""
    where = f"{parent}'s keys" if parent else f"detect {command.name}'s keys"
    return f"unknown key {key!r}; {hint}{where}: {', '.join(keys)} (detect {command.name} --help)"


def missing_value_line(command: Command, cfg: DictConfig) -> str | None:
    """The mandatory values (``???`` in its config) the line left out, with what each takes."""
    missing = [str(key) for key in cfg if OmegaConf.is_missing(cfg, key)]
    if not missing:
        return None
    asked = " ".join(f"{key}=…" for key in missing)
    return (
        f"detect {command.name} needs {', '.join(missing)}: detect {command.name} {asked} "
        f"(detect {command.name} --help says what each takes)"
    )


def format_line(command: Command, cfg: DictConfig) -> str | None:
    if command.config == "export" and cfg.get("format") not in EXPORT_FORMATS:
        return f"unknown format {cfg.get('format')!r}; choose one of {', '.join(EXPORT_FORMATS)}"
    return None
