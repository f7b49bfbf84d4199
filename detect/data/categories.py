"""Category ids as datasets number them ↔ the model's contiguous labels."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from detect.errors import ConfigError


@dataclass(frozen=True)
class CategoryMap:
    """Dataset category ids (e.g. COCO's 91-id scheme, with gaps) ↔ contiguous labels 1..K;
    label 0 is background."""

    coco_ids: tuple[int, ...]
    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.coco_ids) != len(self.names):
            raise ValueError(f"{len(self.coco_ids)} category ids but {len(self.names)} names")

    @classmethod
    def from_coco(cls, categories: Sequence[Mapping[str, Any]]) -> CategoryMap:
        ordered = sorted(categories, key=lambda c: c["id"])
        return cls(tuple(c["id"] for c in ordered), tuple(c["name"] for c in ordered))

    def label(self, coco_id: int) -> int:
        return self.coco_ids.index(coco_id) + 1

    def ids_of(self, classes: Sequence[int | str]) -> tuple[int, ...]:
        """The category ids of ``classes`` given as ids or names; an unknown one is refused by
        name, with the choices."""
        by_name = dict(zip(self.names, self.coco_ids, strict=True))
        ids = []
        for entry in classes:
            found = by_name.get(entry) if isinstance(entry, str) else int(entry)
            if found not in self.coco_ids:
                shown = ", ".join(
                    f"{i} {n}" for i, n in zip(self.coco_ids[:8], self.names[:8], strict=True)
                )
                raise ConfigError(
                    f"classes: {entry!r} is not one of the model's categories (ids or names: "
                    f"{shown}{', …' if len(self.names) > 8 else ''})"
                )
            ids.append(found)
        return tuple(ids)

    def coco_id(self, label: int) -> int:
        return self.coco_ids[label - 1]

    @functools.cached_property
    def by_id(self) -> dict[int, str]:
        """Category id → name (computed once: the stream reads it every frame)."""
        return dict(zip(self.coco_ids, self.names, strict=True))

    @property
    def num_classes(self) -> int:
        """Including background."""
        return len(self.coco_ids) + 1

    def to_dict(self) -> dict[str, list]:
        return {"ids": list(self.coco_ids), "names": list(self.names)}
