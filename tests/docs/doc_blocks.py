"""The fenced examples of the docs' Get started and How-to pages, read as the docs test runs them.

The conventions (docs/contributing/docs.md): HTML comments on the lines right above a fence —
``<!-- no-test: reason -->`` skips the block (the reason must be given), ``<!-- test-with:
detect <command> key=value … -->`` appends overrides to each ``detect <command>`` line of a bash
block, ``<!-- test-provides: NAME -->`` marks a block whose output ``NAME`` every example's
folder starts with. In every block ``<run>`` reads ``demo``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from support.paths import PROJECT

DOCS = PROJECT / "docs"
EXECUTED = ("get-started", "how-to")
LANGUAGES = ("bash", "python")
RUN = "demo"  # what <run> reads in the examples: runs/demo/checkpoints/last.ckpt exists
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
MARKER = re.compile(r"^\s*<!--\s*([a-z-]+):(.*?)-->\s*$")


@dataclass
class Block:
    """One fenced block: where it is, its language and code, and its markers."""

    page: str  # relative to docs/, e.g. get-started/train.md
    line: int  # the opening fence's line, 1-based
    language: str
    code: str
    no_test: str | None = None
    provides: str | None = None
    overrides: dict[str, list[str]] = field(default_factory=dict)  # command → overrides

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    def script(self) -> str:
        """The code as the test runs it: ``<run>`` substituted, the test-with overrides
        appended to each ``detect <command>`` line (continuations joined first)."""
        code = self.code.replace("<run>", RUN)
        if self.language != "bash":
            return code
        lines = []
        for line in code.replace("\\\n", " ").splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) > 1 and words[0] == "detect" and words[1] in self.overrides:
                added = map(shlex.quote, self.overrides[words[1]])
                line = " ".join([line.split(" #", 1)[0], *added])
            lines.append(line)
        return "\n".join(lines)


def page_blocks(page: Path) -> list[Block]:
    """Every ```bash and ```python block of ``page``, with the markers right above it."""
    blocks: list[Block] = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, language = match.groups()
        end = next(
            (j for j in range(index + 1, len(lines)) if lines[j].strip() == "```"), len(lines)
        )
        if language in LANGUAGES:
            body = "\n".join(line[len(indent) :] for line in lines[index + 1 : end])
            block = Block(page.relative_to(DOCS).as_posix(), index + 1, language, body)
            above = index - 1
            while above >= 0 and (marker := MARKER.match(lines[above])):
                read_marker(block, marker.group(1), marker.group(2).strip())
                above -= 1
            blocks.append(block)
        index = end + 1
    return blocks


def read_marker(block: Block, name: str, value: str) -> None:
    if name == "no-test":
        block.no_test = value
    elif name == "test-provides":
        block.provides = value
    elif name == "test-with":
        words = value.split()
        if len(words) < 3 or words[0] != "detect":
            raise ValueError(f"{block.id}: test-with needs 'detect <command> key=value …'")
        block.overrides.setdefault(words[1], []).extend(words[2:])
    elif name.startswith("test-"):
        raise ValueError(f"{block.id}: unknown marker {name!r}")
    # other comments (e.g. scale-out: a marker another test reads) are not the docs test's


def all_blocks() -> list[Block]:
    pages = sorted(page for folder in EXECUTED for page in (DOCS / folder).glob("*.md"))
    return [block for page in pages for block in page_blocks(page)]
