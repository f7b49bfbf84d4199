"""Where the AP goes: TIDE's error types and their oracle fixes.

Bolya, Foley, Hays, Hoffman, "TIDE: A General Toolbox for Identifying Object Detection Errors",
ECCV 2020, §2. Every false positive at the foreground IoU t_f (0.5) is given one type from its
IoU_max — its largest IoU with a ground-truth box (GT) — with the background IoU t_b (0.1):

* ``cls`` — IoU_max ≥ t_f with a GT of another class (located well, classified wrongly);
* ``loc`` — t_b ≤ IoU_max < t_f with a GT of its own class (classified well, located badly);
* ``both`` — t_b ≤ IoU_max < t_f with a GT of another class only;
* ``dupe`` — IoU_max ≥ t_f with a GT of its own class that a higher-scoring detection took;
* ``bkg`` — IoU_max < t_b with every GT (a detection on nothing);

and ``miss`` is every GT no detection found and no cls/loc error was aiming at. Where the
definitions overlap the tests run in the paper's code order: loc, cls, dupe, bkg, then both.

The *oracle* of a type fixes its errors and nothing else (§2.3): a cls or loc error becomes the
true positive of the GT it aimed at if that GT is still free (of several aiming at one GT the
highest-scoring wins; the rest, and those aiming at a taken GT, are suppressed); dupe, bkg and
both errors are suppressed; a missed GT is removed. ΔAP of a type = AP with its oracle − AP.

Unlike TIDE's own matcher, the true positives, the crowd regions and the 100-per-image cap are
pycocotools' own (its ``evaluateImg`` at t_f), and AP is COCOeval's 101-point interpolation, so
the AP here is the AP pycocotools reports at t_f, and re-scoring an oracle's detections with
pycocotools gives AP + ΔAP (both tested).
"""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

ERROR_TYPES = ("cls", "loc", "both", "dupe", "bkg", "miss")
ERROR_NAMES = {
    "cls": "classification",
    "loc": "localisation",
    "both": "cls + loc",
    "dupe": "duplicate",
    "bkg": "background",
    "miss": "missed GT",
}
# what a detection is besides an error: a true positive, on a crowd region (ignored), or past
# COCO's 100 per image and category (never scored)
TRUE_POSITIVE, IGNORED, UNRANKED = "tp", "ignored", "unranked"
UNTYPED = "fp"  # a false positive before its type is found
MAX_DETECTIONS = 100
FIXED_BY_MATCHING = ("cls", "loc")  # the types whose oracle turns an error into a TP


@dataclass(frozen=True)
class Attribution:
    """What each detection (``results[i]``) is — ``kind[i]``: ``tp``, ``ignored``,
    ``unranked`` or an error type — and, for cls/loc errors, ``target[i]``: the id of the GT it
    aimed at (0 otherwise); ``missed``: ids of the missed GT; ``used``: ids of the GT a true
    positive took."""

    kind: np.ndarray
    target: np.ndarray
    missed: frozenset[int]
    used: frozenset[int]


@dataclass
class ErrorBreakdown:
    """AP at ``foreground_iou`` per category (COCO id) and overall (their mean), and ΔAP per
    error type — what fixing only that type would add. ``counts[type][c]``: errors of a
    detection of class c (missed GT: of GT class c). ``image_loss[image_id]``: ΔAP overall of
    fixing every error in that image alone. ``num_gt[c]``: its (non-crowd) GT boxes."""

    foreground_iou: float
    background_iou: float
    ap: dict[int, float]
    delta: dict[str, dict[int, float]]
    counts: dict[str, dict[int, int]]
    image_loss: dict[int, float]
    num_gt: dict[int, int]
    attribution: Attribution
    all_fixed: float  # overall AP with every oracle at once: 1 when every error is accounted for

    @property
    def overall_ap(self) -> float:
        return float(np.mean(list(self.ap.values()))) if self.ap else float("nan")

    def overall_delta(self, error: str) -> float:
        """ΔAP of ``error`` for the mean over categories (each category's ΔAP, averaged)."""
        return float(np.mean(list(self.delta[error].values()))) if self.ap else 0.0

    def total_count(self, error: str) -> int:
        return sum(self.counts[error].values())


@dataclass
class Fix:
    """An oracle's edit, per class (COCO id → ranks, in :class:`ErrorAnalysis`'s ranking): the
    detections it ``drops`` (suppressed, or moved to another class), those it ``turns`` into
    true positives in place (loc errors), those it ``moves_in`` as true positives (cls errors
    aimed at a box of this class), and how many GT it ``removes`` (missed)."""

    drops: dict[int, np.ndarray]
    turns: dict[int, np.ndarray]
    moves_in: dict[int, np.ndarray]
    removes: dict[int, int]

    def categories(self, last_tp: dict[int, int]) -> set[int]:
        """The classes whose AP this edit can change. Dropping a false positive ranked below its
        class's last true positive changes nothing: COCOeval's precision envelope and recall
        thresholds never read past that rank."""
        changed = set(self.turns) | set(self.moves_in) | set(self.removes)
        return changed | {c for c, ranks in self.drops.items() if ranks[0] < last_tp.get(c, -1)}


def by_class(
    indices: Iterable[int], category: np.ndarray, rank: np.ndarray
) -> dict[int, np.ndarray]:
    """Detection indices → class → their ranks, sorted."""
    grouped: dict[int, list[int]] = defaultdict(list)
    for index in indices:
        grouped[int(category[index])].append(int(rank[index]))
    return {c: np.sort(np.asarray(ranks, dtype=np.int64)) for c, ranks in grouped.items()}


def interpolated_ap(
    positions: np.ndarray, num_gt: int, detections: int, recall_thresholds: np.ndarray
) -> float:
    """COCOeval.accumulate's AP for one class, IoU and area, from the 0-based ``positions`` of
    its true positives among its ``detections`` ranked by score: precision tp / (fp + tp) at
    each rank, made monotone, read at the first rank reaching each recall threshold (0 past the
    last) and averaged. Only the true positives' ranks matter — recall first reaches a
    threshold at one, and a false positive never raises the envelope — so this equals
    pycocotools' sum over every rank, operation for operation. A class left without GT by the
    missed-GT oracle scores 1 if nothing is detected in it, else 0 (no recall, all false)."""
    if num_gt == 0:
        return 0.0 if detections else 1.0
    if not positions.size:
        return 0.0
    tp = np.arange(1, positions.size + 1, dtype=float)
    fp = positions + 1.0 - tp
    recall = tp / num_gt
    precision = np.maximum.accumulate((tp / (fp + tp + np.spacing(1)))[::-1])[::-1]
    ranks = np.searchsorted(recall, recall_thresholds, side="left")
    reached = ranks < precision.size
    return float(np.where(reached, precision[np.minimum(ranks, precision.size - 1)], 0.0).mean())


def pycocotools_matching(
    ground_truth: COCO, results: Sequence[dict], image_ids: Iterable[int], iou: float
) -> COCOeval:
    """pycocotools' per-image matching at one IoU, area "all", 100 detections (``evalImgs``)."""
    with contextlib.redirect_stdout(io.StringIO()):
        if results:
            detections = ground_truth.loadRes([dict(r) for r in results])
        else:
            detections = COCO()
            detections.dataset = {
                "images": ground_truth.dataset["images"],
                "categories": ground_truth.dataset["categories"],
                "annotations": [],
            }
            detections.createIndex()
        evaluation = COCOeval(ground_truth, detections, iouType="bbox")
        params = evaluation.params
        params.imgIds = sorted(image_ids)
        params.iouThrs = np.array([iou])
        params.areaRng, params.areaRngLbl = [[0.0, 1e10]], ["all"]
        params.maxDets = [MAX_DETECTIONS]
        evaluation.evaluate()
    return evaluation


class ErrorAnalysis:
    """TIDE's breakdown of ``results`` (COCO results format, as :class:`CocoEvaluator` holds
    them) on ``image_ids`` of ``ground_truth``; see the module doc."""

    def __init__(
        self,
        ground_truth: COCO,
        results: Sequence[dict],
        image_ids: Iterable[int],
        foreground_iou: float = 0.5,
        background_iou: float = 0.1,
    ) -> None:
        if not 0.0 <= background_iou < foreground_iou <= 1.0:
            raise ValueError(
                f"need 0 ≤ background_iou < foreground_iou ≤ 1, got {background_iou}, "
                f"{foreground_iou}"
            )
        self.ground_truth, self.results = ground_truth, results
        self.fg, self.bg = foreground_iou, background_iou
        evaluation = pycocotools_matching(ground_truth, results, image_ids, foreground_iou)
        self.recall_thresholds = evaluation.params.recThrs
        self.image_ids = list(evaluation.params.imgIds)
        self.category_ids = list(evaluation.params.catIds)
        count = len(results)
        self.kind = np.full(count, UNRANKED, dtype=object)
        self.target = np.zeros(count, dtype=np.int64)
        self.category = np.array([r["category_id"] for r in results], dtype=np.int64)
        self.image = np.array([r["image_id"] for r in results], dtype=np.int64)
        self.used: set[int] = set()
        self.num_gt: dict[int, int] = defaultdict(int)
        for item in evaluation.evalImgs:
            if item is None:
                continue
            detections = np.asarray(item["dtIds"], dtype=np.int64) - 1  # loadRes: id = index + 1
            matched, ignored = item["dtMatches"][0] > 0, item["dtIgnore"][0].astype(bool)
            self.kind[detections] = np.where(
                ignored, IGNORED, np.where(matched, TRUE_POSITIVE, UNTYPED)
            )
            real = ~np.asarray(item["gtIgnore"], dtype=bool)
            gt_ids = np.asarray(item["gtIds"], dtype=np.int64)
            self.used.update(gt_ids[real & (item["gtMatches"][0] > 0)].tolist())
            self.num_gt[item["category_id"]] += int(real.sum())
        self.evaluated = sorted(c for c in self.category_ids if self.num_gt[c] > 0)
        self.missed = self._attribute_false_positives()
        self._index_rankings()

    # --- attribution ---------------------------------------------------------------------

    def _attribute_false_positives(self) -> set[int]:
        """Type each false positive (module doc); return the missed GT ids."""
        by_image: dict[int, list[int]] = defaultdict(list)
        for index in np.flatnonzero(self.kind == UNTYPED):
            by_image[int(self.image[index])].append(int(index))
        aimed_at: set[int] = set()
        missed: set[int] = set()
        for image_id in self.image_ids:
            truth = [
                a for a in self.ground_truth.imgToAnns.get(image_id, []) if not a.get("iscrowd", 0)
            ]
            false = by_image.get(image_id, [])
            if false:
                aimed_at |= self._type_image(false, truth)
            missed |= {a["id"] for a in truth if a["id"] not in self.used}
        self.errors_by_image = by_image
        self.missed_by_image: dict[int, list[int]] = defaultdict(list)
        for gt_id in missed - aimed_at:
            self.missed_by_image[self.ground_truth.anns[gt_id]["image_id"]].append(gt_id)
        return missed - aimed_at

    def _type_image(self, false: list[int], truth: list[dict]) -> set[int]:
        """Types of one image's false positives; returns the GT ids cls/loc errors aim at."""
        if not truth:
            self.kind[false] = "bkg"
            return set()
        boxes = [self.results[i]["bbox"] for i in false]
        ious = mask_utils.iou(boxes, [a["bbox"] for a in truth], [0] * len(truth))
        gt_class = np.array([a["category_id"] for a in truth])
        gt_used = np.array([a["id"] in self.used for a in truth])
        aimed = set()
        for row, index in zip(ious, false, strict=True):
            own = gt_class == self.category[index]
            same = np.where(own, row, -1.0)
            other = np.where(own, -1.0, row)
            taken = np.where(own & gt_used, row, -1.0)
            if self.bg <= same.max() < self.fg:
                kind, aim = "loc", int(same.argmax())
            elif other.max() >= self.fg:
                kind, aim = "cls", int(other.argmax())
            elif taken.max() >= self.fg:
                kind, aim = "dupe", -1
            elif row.max() < self.bg:
                kind, aim = "bkg", -1
            else:
                kind, aim = "both", -1
            self.kind[index] = kind
            if aim >= 0:
                self.target[index] = truth[aim]["id"]
                aimed.add(truth[aim]["id"])
        return aimed

    def attribution(self) -> Attribution:
        return Attribution(
            self.kind.copy(), self.target.copy(), frozenset(self.missed), frozenset(self.used)
        )

    # --- AP and the oracles --------------------------------------------------------------

    def _index_rankings(self) -> None:
        """Every scored detection's rank in COCOeval's order — score descending, then image
        (sorted ids), then result order, as its stable sorts give — and per class the ranks of
        its detections and of its true positives, and the true positives' positions."""
        scored = np.flatnonzero((self.kind != UNRANKED) & (self.kind != IGNORED))
        score = np.array([self.results[i]["score"] for i in scored], dtype=float)
        image_rank = np.searchsorted(self.image_ids, self.image[scored])
        ranked = scored[np.lexsort((scored, image_rank, -score))]
        self.rank = np.empty(len(self.results), dtype=np.int64)
        self.rank[ranked] = np.arange(ranked.size)
        true_positive = self.kind == TRUE_POSITIVE
        self.class_ranks, self.tp_positions, self.tp_ranks = {}, {}, {}
        for c in self.evaluated:
            in_class = ranked[self.category[ranked] == c]
            self.class_ranks[c] = self.rank[in_class]
            self.tp_positions[c] = np.flatnonzero(true_positive[in_class])
            self.tp_ranks[c] = self.class_ranks[c][self.tp_positions[c]]
        self.last_tp = {c: int(r[-1]) if r.size else -1 for c, r in self.tp_ranks.items()}

    def category_ap(self, category: int, fix: Fix | None = None) -> float:
        """AP of one class at t_f, after ``fix``: the true positives' new positions are their
        ranks' places among the class's detections, less those dropped before them, plus those
        moved in before them."""
        ranks, true = self.class_ranks[category], self.tp_ranks[category]
        num_gt = self.num_gt[category]
        if fix is None:
            return interpolated_ap(
                self.tp_positions[category], num_gt, ranks.size, self.recall_thresholds
            )
        empty = np.empty(0, dtype=np.int64)
        drops = fix.drops.get(category, empty)
        moves_in = fix.moves_in.get(category, empty)
        true = np.sort(np.concatenate([true, fix.turns.get(category, empty), moves_in]))
        positions = (
            np.searchsorted(ranks, true)
            - np.searchsorted(drops, true)
            + np.searchsorted(moves_in, true)
        )
        detections = ranks.size - drops.size + moves_in.size
        num_gt -= fix.removes.get(category, 0)
        return interpolated_ap(positions, num_gt, detections, self.recall_thresholds)

    def oracle(self, types: Iterable[str], image_id: int | None = None) -> Fix:
        """The edit that fixes every error of ``types`` (in ``image_id`` only, if given)."""
        types = set(types)
        if image_id is None:
            candidates = [i for errors in self.errors_by_image.values() for i in errors]
        else:
            candidates = self.errors_by_image.get(image_id, [])
        dropped: list[int] = []
        turned: list[int] = []
        contenders: dict[int, list[int]] = defaultdict(list)
        for index in candidates:
            if self.kind[index] not in types:
                continue
            target = int(self.target[index])
            if self.kind[index] in FIXED_BY_MATCHING and target not in self.used:
                contenders[target].append(index)
            else:
                dropped.append(index)
        moved_to: dict[int, list[int]] = defaultdict(list)
        for target, indices in contenders.items():
            best = min(indices, key=lambda i: self.rank[i])
            dropped += [i for i in indices if i != best]
            if self.kind[best] == "loc":
                turned.append(best)
            else:
                dropped.append(best)
                moved_to[self.ground_truth.anns[target]["category_id"]].append(int(self.rank[best]))
        removes: dict[int, int] = defaultdict(int)
        if "miss" in types:
            missed = self.missed if image_id is None else self.missed_by_image.get(image_id, [])
            for gt_id in missed:
                removes[self.ground_truth.anns[gt_id]["category_id"]] += 1
        return Fix(
            by_class(dropped, self.category, self.rank),
            by_class(turned, self.category, self.rank),
            {c: np.sort(np.asarray(r, dtype=np.int64)) for c, r in moved_to.items()},
            dict(removes),
        )

    def breakdown(self) -> ErrorBreakdown:
        """AP, ΔAP and counts per type and class; the AP lost in each image."""
        ap = {c: self.category_ap(c) for c in self.evaluated}
        delta = {}
        for error in ERROR_TYPES:
            fix = self.oracle([error])
            delta[error] = {c: self.category_ap(c, fix) - ap[c] for c in self.evaluated}
        everything = self.oracle(ERROR_TYPES)
        all_fixed = [self.category_ap(c, everything) for c in self.evaluated]
        counts: dict[str, dict[int, int]] = {error: defaultdict(int) for error in ERROR_TYPES}
        for kind, category in zip(self.kind, self.category, strict=True):
            if kind in counts:
                counts[kind][int(category)] += 1
        for gt_id in self.missed:
            counts["miss"][self.ground_truth.anns[gt_id]["category_id"]] += 1
        return ErrorBreakdown(
            self.fg,
            self.bg,
            ap,
            delta,
            {error: dict(by_class) for error, by_class in counts.items()},
            self.image_loss(ap),
            {c: self.num_gt[c] for c in self.evaluated},
            self.attribution(),
            float(np.mean(all_fixed)) if all_fixed else float("nan"),
        )

    def image_loss(self, ap: dict[int, float]) -> dict[int, float]:
        """Per image, the overall ΔAP of fixing every error in it alone."""
        loss = {}
        for image_id in self.image_ids:
            fix = self.oracle(ERROR_TYPES, image_id)
            touched = fix.categories(self.last_tp) & set(self.evaluated)
            gain = sum(self.category_ap(c, fix) - ap[c] for c in touched)
            loss[image_id] = gain / len(self.evaluated) if self.evaluated else 0.0
        return loss
