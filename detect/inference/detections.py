"""One result type for every backend, :class:`~detect.api.Model` and the stream: an image's
detections as arrays (supervision's ``Detections`` shape), filtered by masks, written as the
JSON-lines entries ``detect predict`` writes, drawn, and converted to and from supervision."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from detect.data.categories import CategoryMap
from detect.inference.drawing import draw_boxes, name_of
from detect.inference.tracking import Trail

if TYPE_CHECKING:
    import supervision as sv

DEFAULT_SCORE_THRESH = 0.3  # the one default of Model.predict, `detect predict` and the server

Index = int | slice | Sequence[int] | Sequence[bool] | np.ndarray


@dataclass(eq=False)
class Detections:
    """``xyxy`` (N, 4) float32 boxes in the original image's pixels, ``scores`` (N,) float32,
    ``class_ids`` (N,) int64 — the dataset's category ids (COCO's 91-id scheme for COCO
    models) — ``names`` (category id → name) and, with tracking, ``track_ids`` (N,) int64
    (-1: not a confirmed track). Indexing takes a mask, indices or a slice:
    ``d[d.scores > 0.5]``, ``d[d.class_ids == 1]``."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    names: Mapping[int, str] = field(default_factory=dict)
    track_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.class_ids = np.asarray(self.class_ids, dtype=np.int64).reshape(-1)
        if self.track_ids is not None:
            self.track_ids = np.asarray(self.track_ids, dtype=np.int64).reshape(-1)
        sizes = {len(self.xyxy), len(self.scores), len(self.class_ids)}
        if self.track_ids is not None:
            sizes.add(len(self.track_ids))
        if len(sizes) != 1:
            raise ValueError(f"Detections: fields of different lengths {sorted(sizes)}")

    @classmethod
    def empty(cls, names: Mapping[int, str] | None = None) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0), dict(names or {}))

    @classmethod
    def from_labels(
        cls,
        boxes: Any,
        scores: Any,
        labels: Any,
        categories: CategoryMap,
        track_ids: np.ndarray | None = None,
    ) -> Detections:
        """From a detector's output: contiguous ``labels`` 1..K mapped to ``categories``' ids
        (tensors or arrays)."""
        labels = np.asarray(_numpy(labels), dtype=np.int64).reshape(-1)
        ids = np.asarray(categories.coco_ids, dtype=np.int64)[labels - 1]
        return cls(_numpy(boxes), _numpy(scores), ids, categories.by_id, track_ids)

    @classmethod
    def from_output(
        cls,
        found: Mapping[str, Any],
        categories: CategoryMap | None,
        score_thresh: float = DEFAULT_SCORE_THRESH,
        classes: Sequence[int] | None = None,
        max_detections: int | None = None,
    ) -> Detections:
        """A detector's output for one image (``boxes``, ``scores``, contiguous ``labels``)
        scoring at least ``score_thresh``, of ``classes`` (category ids; None: all), the
        ``max_detections`` best; without ``categories`` the labels stand for the ids."""
        keep = _numpy(found["scores"]) >= score_thresh
        boxes, scores, labels = (_numpy(found[key])[keep] for key in ("boxes", "scores", "labels"))
        if categories is None:
            detections = cls(boxes, scores, labels)
        else:
            detections = cls.from_labels(boxes, scores, labels, categories)
        return detections.of_classes(classes).top(max_detections)

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: Index) -> Detections:
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            self.xyxy[index],
            self.scores[index],
            self.class_ids[index],
            self.names,
            None if self.track_ids is None else self.track_ids[index],
        )

    def __repr__(self) -> str:
        tracked = "" if self.track_ids is None else ", tracked"
        return f"Detections({len(self)} boxes{tracked}: {self.summary()})"

    @property
    def class_names(self) -> list[str]:
        """Each detection's category name."""
        return [name_of(self.names, i) for i in self.class_ids.tolist()]

    def summary(self) -> str:
        """ "2 person, 1 car" (most frequent first), or "nothing"."""
        counted = Counter(self.class_names).most_common()
        return ", ".join(f"{n} {name}" for name, n in counted) or "nothing"

    def top(self, count: int | None) -> Detections:
        """The ``count`` highest-scoring detections (all of them for None)."""
        if count is None or len(self) <= count:
            return self
        return self[np.argsort(-self.scores, kind="stable")[:count]]

    def of_classes(self, class_ids: Sequence[int] | None) -> Detections:
        """Only the detections of these category ids (all of them for None)."""
        if class_ids is None:
            return self
        return self[np.isin(self.class_ids, np.asarray(list(class_ids), dtype=np.int64))]

    def to_records(self) -> list[dict[str, Any]]:
        """The ``detections`` entries of ``detect predict``'s JSON lines: box [x1, y1, x2, y2]
        (2 decimals), label (the name), category_id, score (4 decimals), and with tracking
        track_id (null: no confirmed track)."""
        records = [
            {
                "box": [round(float(v), 2) for v in box],
                "label": name,
                "category_id": int(class_id),
                "score": round(float(score), 4),
            }
            for box, name, class_id, score in zip(
                self.xyxy, self.class_names, self.class_ids, self.scores, strict=True
            )
        ]
        if self.track_ids is not None:
            for record, track_id in zip(records, self.track_ids.tolist(), strict=True):
                record["track_id"] = track_id if track_id >= 0 else None
        return records

    def draw(self, image: np.ndarray, trails: dict[int, Trail] | None = None) -> np.ndarray:
        """A copy of ``image`` (BGR, as OpenCV reads it) with each box, name and score drawn
        (a tracked box: its id, in its track's colour, and its trail from ``trails``)."""
        return draw_boxes(
            image,
            self.xyxy,
            self.class_ids.tolist(),
            self.names,
            self.scores,
            track_ids=self.track_ids,
            trails=trails,
        )

    def to_supervision(self) -> sv.Detections:
        """supervision's ``Detections`` (the ``supervision`` extra): its annotators, zones and
        trackers then work on ours; names travel as ``data["class_name"]``."""
        import supervision as sv

        return sv.Detections(
            xyxy=self.xyxy.copy(),
            confidence=self.scores.copy(),
            class_id=self.class_ids.copy(),
            tracker_id=None if self.track_ids is None else self.track_ids.copy(),
            data={"class_name": np.array(self.class_names, dtype=str)},
        )

    @classmethod
    def from_supervision(
        cls, detections: sv.Detections, names: Mapping[int, str] | None = None
    ) -> Detections:
        """Ours from supervision's; ``names`` from its ``class_name`` data when not given."""
        count = len(detections)
        scores = detections.confidence if detections.confidence is not None else np.ones(count)
        class_ids = detections.class_id if detections.class_id is not None else np.zeros(count)
        if names is None:
            found = detections.data.get("class_name", [str(int(i)) for i in class_ids])
            names = {int(i): str(n) for i, n in zip(class_ids, found, strict=True)}
        return cls(detections.xyxy, scores, class_ids, dict(names), detections.tracker_id)


def _numpy(value: Any) -> np.ndarray:
    """A tensor (any device) or array-like as a numpy array."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)
