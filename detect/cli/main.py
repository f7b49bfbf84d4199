"""The installed ``detect`` command: ``detect <command> key=value …`` runs one tool's Hydra
config through its function (``detect/cli/commands.py``); ``tools/<tool>.py`` run the same."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from typing import Any

from detect import __version__
from detect.cli import friendly_errors, resolvers  # noqa: F401  (registered before composing)
from detect.cli.commands import COMMANDS, Command

CONFIG_PATH = "pkg://detect.conf"  # the configs ship inside the package: any directory works
HELP = {"--help", "-h", "--hydra-help"}  # answered before the command's function is imported
INTERRUPTED = 130  # the shell's status for a command stopped by SIGINT


def run_command(command: Command, overrides: Sequence[str]) -> Any:
    """Compose ``command``'s config with ``overrides`` (Hydra's command line: ``key=value``,
    ``--help``, ``-m`` …) and run it; an input error exits with one ``error:`` line, Ctrl-C
    with one line and status 130 (whatever was being written is left as it was: every file
    is staged and renamed into place, see :mod:`detect.io`)."""
    try:
        return run_hydra(command, overrides)
    except KeyboardInterrupt:
        print(f"error: detect {command.name} interrupted (Ctrl-C); stopped", file=sys.stderr)
        sys.exit(INTERRUPTED)


def run_hydra(command: Command, overrides: Sequence[str]) -> Any:
    # Hydra's private runner, called as hydra.main calls it, but on our argument list rather
    # than sys.argv: sys.argv stays as the user typed it, so Lightning's DDP launcher (which
    # re-runs sys.argv for each extra process) re-runs `detect train …`, not a cut-down line.
    from hydra import version
    from hydra._internal.utils import _run_hydra, get_args_parser

    from detect.cli.preflight import HYDRA_RUN, preflight

    version.setbase("1.3")  # as @hydra.main(version_base="1.3"): no chdir into the output dir
    if not HELP.intersection(overrides):
        checked = preflight(command, overrides)
        if isinstance(checked, str):
            print(f"error: {checked}", file=sys.stderr)
            sys.exit(1)
        if checked is HYDRA_RUN:
            # imported before Hydra sets up logging, as a tool script imports it: Lightning
            # then keeps its own console handler and its lines are not printed twice
            command.function()
    task = friendly_errors(command.task())
    parser = get_args_parser()
    parser.prog = f"detect {command.name}"
    return _run_hydra(
        args=parser.parse_args(list(overrides)),
        args_parser=parser,
        task_function=task,
        config_path=CONFIG_PATH,
        config_name=command.config,
    )


def run_tool(name: str) -> Any:
    """``python tools/<tool>.py key=value …``: the same command as ``detect <name> …``."""
    return run_command(COMMANDS[name], sys.argv[1:])


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [
        "usage: detect <command> [key=value …]   (Hydra overrides; detect <command> --help)",
        "",
        "MobileNet V1/V2/V3 + SSDLite object detection for phones, edge boxes and CPUs.",
        "",
        "commands:",
        *(f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()),
        "",
        "options:",
        f"  {'--help':<{width}}  this list",
        f"  {'--version':<{width}}  the installed version",
        "",
        "examples:",
        "  detect train backbone=v3_large data=coco_subset",
        "  detect predict ckpt=runs/<run>/checkpoints/last.ckpt source=clip.mp4",
        "  detect export ckpt=runs/<run>/checkpoints/last.ckpt format=onnx",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> Any:
    """Entry point of the ``detect`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return None
    if args[0] in ("-V", "--version", "version"):
        print(f"detect {__version__}")
        return None
    command = COMMANDS.get(args[0])
    if command is None:
        close = difflib.get_close_matches(args[0], COMMANDS, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        print(
            f"error: unknown command {args[0]!r}; {hint}choose one of {', '.join(COMMANDS)} "
            "(detect --help)",
            file=sys.stderr,
        )
        sys.exit(2)
    return run_command(command, args[1:])
