"""What a file stores about models and data is data: plain values, never code to call.

A checkpoint or an exported model carries its model, category and run configs so that it
stands alone. Those come from strangers (model zoos, colleagues), so they are read as plain
values and mapped onto this project's own builders — never handed to ``hydra.utils.instantiate``
or OmegaConf's resolvers. Files written by detect hold no Hydra call keys (``_target_`` and
friends are stripped on the way in); a file that holds one was made to run code and is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

CALL_KEY = re.compile(r"^_[a-z]+_$")  # Hydra's _target_, _args_, _partial_, _recursive_, …
SCALARS = (str, int, float, bool, type(None))


def strip_call_keys(value: Any) -> Any:
    """A copy of a config tree (dicts, lists, scalars) without Hydra's call keys: what a file may
    store of a composed config."""
    if isinstance(value, Mapping):
        return {k: strip_call_keys(v) for k, v in value.items() if not CALL_KEY.match(str(k))}
    if isinstance(value, (list, tuple)):
        return [strip_call_keys(item) for item in value]
    return value


def check_plain(value: Any, where: str, error: type[Exception], source: str) -> None:
    """Raise ``error`` naming ``source`` and the field when ``value`` holds anything but nested
    dicts (string keys), lists and scalars, or a Hydra call key at any depth."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            field = f"{where}.{key}"
            if not isinstance(key, str):
                raise error(f"{source}: field {where} has a non-string key {key!r}; refused")
            if CALL_KEY.match(key):
                raise error(
                    f"{source}: its stored field {field} = {item!r} names code to call; files "
                    "written by detect hold plain data only, so this one is refused (nothing "
                    "was run)"
                )
            check_plain(item, field, error, source)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]", error, source)
    elif not isinstance(value, SCALARS):
        raise error(f"{source}: field {where} holds a {type(value).__name__}, not plain data")
