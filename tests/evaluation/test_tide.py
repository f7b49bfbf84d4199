"""TIDE's error breakdown: known injected errors get their types, and each oracle's ΔAP is what
pycocotools gives for the detections that oracle fixes (on real detections of a checkpoint)."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from support.detections import noisy_detections, pycocotools_eval, real_detections, without

from detect.evaluation.tide import ERROR_TYPES, Attribution, ErrorAnalysis


@pytest.fixture(scope="module")
def truth(coco_val_set):
    return coco_val_set.coco


def isolated(truth, annotation) -> bool:
    """No other box of its image within one box-size of it (so an injected error has one
    unambiguous type)."""
    others = [a for a in truth.imgToAnns[annotation["image_id"]] if a["id"] != annotation["id"]]
    x, y, w, h = annotation["bbox"]
    grown = [x - w, y - h, 3 * w, 3 * h]
    return (
        not others
        or mask_utils.iou([grown], [a["bbox"] for a in others], [0] * len(others)).max() == 0
    )


def inject(truth):
    """Ground truth as detections with known errors: a wrong label (cls), a box shifted by half
    its width (IoU 1/3: loc), both (both), a second, slightly lower-scoring copy (dupe), a box
    deleted (miss), and a 3×3 px box in a corner of every third image without crowd regions
    (bkg: on a crowd region it would be ignored, as COCO ignores it). Returns the
    detections, the injected error per detection index, the GT each one came from and the
    deleted GT ids."""
    rng = np.random.default_rng(0)
    categories = sorted(truth.getCatIds())
    results, injected, source, deleted = [], {}, {}, set()
    plan = ("cls", "loc", "both", "dupe", "miss")
    for a in sorted(truth.anns.values(), key=lambda a: a["id"]):
        if a["iscrowd"]:
            continue
        x, y, w, h = a["bbox"]
        detection = {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "bbox": [x, y, w, h],
            "score": float(rng.uniform(0.5, 1.0)),
        }
        kind = plan[a["id"] % 9] if a["id"] % 9 < 5 and w * h > 100 and isolated(truth, a) else None
        other = categories[(categories.index(a["category_id"]) + 1) % len(categories)]
        if kind == "miss":
            deleted.add(a["id"])
            continue
        if kind in ("cls", "both"):
            detection["category_id"] = other
        if kind in ("loc", "both"):
            detection["bbox"] = [x + w / 2, y, w, h]
        if kind == "dupe":
            results.append(dict(detection))
            detection["score"] -= 0.01
        if kind is not None:
            injected[len(results)], source[len(results)] = kind, a["id"]
        results.append(detection)
    uncrowded = [
        i for i in sorted(truth.getImgIds()) if not any(a["iscrowd"] for a in truth.imgToAnns[i])
    ]
    for image_id in uncrowded[::3]:
        injected[len(results)] = "bkg"
        results.append(
            {
                "image_id": image_id,
                "category_id": categories[0],
                "bbox": [1, 1, 3, 3],
                "score": float(rng.uniform(0.0, 1.0)),
            }
        )
    return results, injected, source, deleted


def test_injected_errors_are_attributed_to_their_type(truth):
    results, injected, source, deleted = inject(truth)
    breakdown = ErrorAnalysis(truth, results, truth.getImgIds()).breakdown()
    kind, target = breakdown.attribution.kind, breakdown.attribution.target
    assert {i: kind[i] for i in injected} == injected  # each injected error, by its type
    errors = {i for i, k in enumerate(kind) if k in ERROR_TYPES}
    assert errors == set(injected)  # and nothing else is an error
    aiming = {i: int(target[i]) for i, k in injected.items() if k in ("cls", "loc")}
    assert aiming == {i: source[i] for i in aiming}  # at the box they came from
    both = [i for i, k in injected.items() if k == "both"]
    # a box both mislabelled and shifted aims at nothing: its GT counts as missed too (TIDE)
    assert breakdown.attribution.missed == deleted | {source[i] for i in both}
    for error in ("cls", "loc", "both", "dupe", "bkg"):
        assert breakdown.total_count(error) == sum(k == error for k in injected.values()) > 0
    assert breakdown.total_count("miss") == len(deleted) + len(both)
    for error in ERROR_TYPES:
        assert breakdown.overall_delta(error) > 0, error
    assert breakdown.all_fixed == pytest.approx(1.0)


def oracle_results(truth, results, attribution: Attribution, types, image_id=None):
    """The detections an oracle leaves, rebuilt from the attribution alone: errors of ``types``
    suppressed, except the best-scoring cls/loc error on each free GT, which takes that GT's box
    and class; unranked detections (past 100 per image and class, never scored) dropped; the
    missed GT removed from the ground truth."""
    kind, target = attribution.kind, attribution.target

    def chosen(i):
        return kind[i] in types and (image_id is None or results[i]["image_id"] == image_id)

    best: dict[int, int] = {}
    for i, r in enumerate(results):
        aim = int(target[i])
        fixable = chosen(i) and kind[i] in ("cls", "loc") and aim not in attribution.used
        if fixable and (aim not in best or r["score"] > results[best[aim]]["score"]):
            best[aim] = i
    fixed = []
    for i, r in enumerate(results):
        if kind[i] == "unranked" or (chosen(i) and best.get(int(target[i])) != i):
            continue
        if chosen(i):
            aimed = truth.anns[int(target[i])]
            r = dict(r, bbox=aimed["bbox"], category_id=aimed["category_id"])
        fixed.append(r)
    removed = [
        g
        for g in attribution.missed
        if "miss" in types and (image_id is None or truth.anns[g]["image_id"] == image_id)
    ]
    return fixed, without(truth, removed) if removed else truth


def rescored_ap(truth, fixed, categories) -> float:
    """pycocotools' AP50 per class, averaged over ``categories``; a class left without GT by
    the missed oracle scores 1 if nothing is detected in it, else 0 (the module's rule)."""
    evaluation = pycocotools_eval(
        truth,
        fixed,
        iouThrs=np.array([0.5]),
        areaRng=[[0, 1e10]],
        areaRngLbl=["all"],
        maxDets=[100],
    )
    precision = evaluation.eval["precision"][0, :, :, 0, -1]
    ids = evaluation.params.catIds
    aps = []
    for c in categories:
        column = precision[:, ids.index(c)]
        if (column > -1).all():
            aps.append(column.mean())
        else:
            aps.append(0.0 if any(r["category_id"] == c for r in fixed) else 1.0)
    return float(np.mean(aps))


@pytest.mark.slow
@pytest.mark.parametrize("source", ["checkpoint", "simulated"])
def test_each_oracle_raises_ap_by_what_pycocotools_rescores(truth, source):
    results = real_detections() if source == "checkpoint" else noisy_detections(truth)
    breakdown = ErrorAnalysis(truth, results, truth.getImgIds()).breakdown()
    reference = pycocotools_eval(truth, results)
    assert breakdown.overall_ap == pytest.approx(reference.stats[1], abs=1e-9)  # AP50
    categories = sorted(breakdown.ap)
    base = rescored_ap(
        truth, oracle_results(truth, results, breakdown.attribution, ())[0], categories
    )
    assert base == pytest.approx(breakdown.overall_ap, abs=1e-9)
    for error in ERROR_TYPES:
        fixed, fixed_truth = oracle_results(truth, results, breakdown.attribution, {error})
        gain = rescored_ap(fixed_truth, fixed, categories) - base
        assert breakdown.overall_delta(error) == pytest.approx(gain, abs=1e-9), error
        assert breakdown.overall_delta(error) >= 0
    assert breakdown.all_fixed == pytest.approx(1.0)
    worst = max(breakdown.image_loss, key=breakdown.image_loss.get)
    fixed, fixed_truth = oracle_results(
        truth, results, breakdown.attribution, set(ERROR_TYPES), worst
    )
    gain = rescored_ap(fixed_truth, fixed, categories) - base
    assert breakdown.image_loss[worst] == pytest.approx(gain, abs=1e-9) and gain > 0


def test_no_detections_miss_everything(truth):
    breakdown = ErrorAnalysis(truth, [], truth.getImgIds()).breakdown()
    assert breakdown.overall_ap == 0.0
    assert breakdown.total_count("miss") == sum(not a["iscrowd"] for a in truth.anns.values())
    assert breakdown.overall_delta("miss") == pytest.approx(1.0)  # nothing left to find
    assert all(breakdown.overall_delta(e) == 0 for e in ERROR_TYPES if e != "miss")


def test_thresholds_must_be_ordered(truth):
    with pytest.raises(ValueError, match="background_iou < foreground_iou"):
        ErrorAnalysis(truth, [], truth.getImgIds(), foreground_iou=0.1, background_iou=0.5)


def test_the_per_image_loss_skips_only_classes_it_cannot_change(truth):
    analysis = ErrorAnalysis(truth, real_detections(), truth.getImgIds())
    ap = {c: analysis.category_ap(c) for c in analysis.evaluated}
    loss = analysis.image_loss(ap)
    for image_id in analysis.image_ids:  # every class recomputed, none skipped
        fix = analysis.oracle(ERROR_TYPES, image_id)
        gain = sum(analysis.category_ap(c, fix) - ap[c] for c in analysis.evaluated)
        assert loss[image_id] == pytest.approx(gain / len(analysis.evaluated), abs=1e-12)
    assert sum(value > 0 for value in loss.values()) > 50
