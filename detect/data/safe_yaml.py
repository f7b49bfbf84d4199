"""YAML from outside, read within bounds: the safe loader, with aliases counted and their
expansion measured before anything is built.

``yaml.safe_load`` refuses code (``!!python`` tags) but not size: nine levels of ten aliases
(``a: &a [x, …]``, ``b: &b [*a, …]``, …) are 380 bytes that stand for 10⁹ values, which the
first ``str()`` or list comprehension over them materialises. PyYAML's composer shares an alias's
node rather than copying it, so the node graph stays small and can be measured: the number of
values it would expand to is counted (each shared node once, then multiplied by its uses), and a
file over budget is refused before construction. A recursive alias (``a: &a [*a]``) is refused
too: it would loop forever in anything that walks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from detect.errors import DatasetError

MAX_BYTES = 10 << 20  # a dataset descriptor is a few KB; 10k class names are ~200 KB
MAX_ALIASES = 64  # ultralytics' data.yaml files use none
MAX_VALUES = 200_000  # scalars and collections after expansion: 10k names with room to spare


class BudgetExceeded(yaml.YAMLError):
    """The document would expand beyond the loader's budget."""


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that stops after :data:`MAX_ALIASES` aliases."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise BudgetExceeded(
                    f"more than {MAX_ALIASES} YAML aliases (*name); a dataset descriptor needs none"
                )
        return super().compose_node(parent, index)


def expanded_size(node: yaml.Node) -> int:
    """How many values ``node`` stands for once every alias is copied out (each shared node is
    measured once); raises :class:`BudgetExceeded` over :data:`MAX_VALUES` or on a cycle."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(current: yaml.Node) -> int:
        key = id(current)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise BudgetExceeded("a recursive YAML alias (a node that contains itself)")
        open_nodes.add(key)
        if isinstance(current, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in current.value)
        elif isinstance(current, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in current.value)
        else:
            total = 1
        open_nodes.discard(key)
        if total > MAX_VALUES:
            raise BudgetExceeded(
                f"its YAML aliases expand to more than {MAX_VALUES} values; write the values out"
            )
        sizes[key] = total
        return total

    return size(node)


def load_yaml(file: Path) -> Any:
    """The one YAML document in ``file``, within the budgets above, or a :class:`DatasetError`
    naming the file and what is wrong."""
    try:
        if file.stat().st_size > MAX_BYTES:
            raise DatasetError(
                f"{file} is larger than {MAX_BYTES >> 20} MB: not a dataset descriptor"
            )
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"cannot read {file}: {one_line(error)}") from None
    loader = None
    try:
        loader = BoundedLoader(text)  # checks the characters first (NUL is not YAML)
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node)
        return loader.construct_document(node)
    except BudgetExceeded as error:
        raise DatasetError(f"{file} is refused: {error}") from None
    except RecursionError:
        raise DatasetError(f"{file} is nested too deeply to be a dataset descriptor") from None
    except (yaml.YAMLError, ValueError, OverflowError) as error:
        # ValueError/OverflowError: a scalar PyYAML resolves but cannot build (a date like
        # 2024-13-45, an integer of 5000 digits)
        raise DatasetError(f"{file} is not readable YAML ({one_line(error)})") from None
    finally:
        if loader is not None:
            loader.dispose()


def one_line(error: BaseException) -> str:
    """An exception's message on one line (PyYAML's span several, with a caret)."""
    return " ".join(str(error).split())
