"""MkDocs hook: the reference pages' tables and listings are generated from the code at build time,
so they cannot drift from it.

A page holds a marker such as ``<!-- generated: commands -->``; :func:`on_page_markdown` replaces
it with markdown made from ``detect.cli.commands.COMMANDS`` (each command's Hydra config composed,
its help header, config file and footer), the config groups in ``detect/conf`` and the error
types in ``detect.errors``. A config that no longer composes fails the build.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

import detect.conf
import detect.errors
from detect.cli.commands import COMMANDS

CONF = Path(detect.conf.__file__).parent
HIDDEN_GROUPS = {"hydra"}  # Hydra's own logging/output settings, not the user's
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)  # a line of its own


def without_hydra_block(text: str) -> str:
    """A config file's text up to its ``hydra:`` block (the help, shown separately)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("hydra:"):
            lines = lines[:index]
            break
    return "\n".join(lines).rstrip()


def fenced(text: str, language: str = "") -> str:
    return f"```{language}\n{text.rstrip()}\n```"


def command_section(name: str) -> str:
    """One command: summary, help header, config groups chosen, its config file, help footer."""
    command = COMMANDS[name]
    with initialize_config_module("detect.conf", version_base="1.3"):
        cfg = compose(command.config, return_hydra_config=True)
    help_ = cfg.hydra.help
    choices = {
        group: choice
        for group, choice in OmegaConf.to_container(cfg.hydra.runtime.choices).items()
        if not group.startswith("hydra") and choice is not None
    }
    text = (CONF / f"{command.config}.yaml").read_text()
    parts = [
        f"## detect {name}",
        f"*{command.summary}* — `detect {name} key=value …`, also "
        f"`python tools/{command.config}.py …`; the function: `{command.target}`.",
        help_.header.strip(),
    ]
    if choices:
        listed = ", ".join(f"`{group}={choice}`" for group, choice in sorted(choices.items()))
        parts.append(f"Config groups chosen by default: {listed} ([config groups](configs.md)).")
    parts.append(f"Its config, `detect/conf/{command.config}.yaml` (every key overridable):")
    parts.append(fenced(without_hydra_block(text), "yaml"))
    footer = (help_.footer or "").strip().replace("$$", "$")  # Hydra's help: a string.Template
    if footer:
        parts.append(fenced(footer, "text"))
    return "\n\n".join(parts)


def commands() -> str:
    rows = ["| command | what it does |", "|---|---|"]
    rows += [f"| [`detect {n}`](#detect-{n}) | {c.summary} |" for n, c in COMMANDS.items()]
    return "\n".join(rows) + "\n\n" + "\n\n".join(command_section(n) for n in COMMANDS)


def config_groups() -> str:
    parts = []
    groups = sorted(p for p in CONF.iterdir() if p.is_dir() and p.name not in HIDDEN_GROUPS)
    for group in groups:
        options = sorted(group.glob("*.yaml"))
        if not options:
            continue
        parts.append(f"## `{group.name}`")
        parts.append("Options: " + ", ".join(f"`{group.name}={o.stem}`" for o in options))
        for option in options:
            parts.append(f"### `{group.name}={option.stem}`")
            parts.append(fenced(option.read_text(), "yaml"))
    return "\n\n".join(parts)


def errors() -> str:
    rows = ["| error type | exit code | raised for |", "|---|---|---|"]
    for name, kind in inspect.getmembers(detect.errors, inspect.isclass):
        if not issubclass(kind, detect.errors.DetectError) or kind.__module__ != "detect.errors":
            continue
        doc = " ".join((inspect.getdoc(kind) or "").split())
        bases = ", ".join(b.__name__ for b in kind.__bases__)
        rows.append(f"| `{name}` ({bases}) | {getattr(kind, 'exit_code', 1)} | {doc} |")
    return "\n".join(rows)


GENERATORS = {"commands": commands, "config-groups": config_groups, "errors": errors}


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        return GENERATORS[match.group(1)]()

    return MARKER.sub(replace, markdown)
