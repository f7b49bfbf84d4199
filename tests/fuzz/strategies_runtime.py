"""Malformed runtime inputs, generated: a run's ``detections.jsonl``, MOTChallenge ground truth,
a ``counts.json`` and the model config a checkpoint stores.

Each target writes the generated file under a fresh folder and reads it with the reader
``detect eval-tracking`` / ``detect eval`` reach; see :mod:`fuzz.campaign` for the rules. Values
lean towards near-valid ones (so the checks past the first field are reached) with the
hostile ones mixed in: NaN and inf, negative and huge numbers, strings for numbers, wrong
lengths, missing and unknown keys.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from fuzz.campaign import Target
from hypothesis import strategies as st

from detect.evaluation.tracking import read_counts, read_mot, read_run
from detect.evaluation.tracking_files import Run
from detect.weights.checkpoint import CHECKPOINT_KEY, CHECKPOINT_VERSION, load_checkpoint

NUMBER = st.one_of(
    st.integers(min_value=-3, max_value=60),
    st.sampled_from([0.5, -1.0, 1e9, -1e9, math.nan, math.inf, -math.inf, 10**20]),
    st.floats(min_value=-100, max_value=100),
)
JUNK = st.one_of(
    st.none(), st.booleans(), st.text(max_size=4), st.just([]), st.just({}), st.just([1, 2])
)
MAYBE = st.one_of(NUMBER, NUMBER, NUMBER, JUNK)  # mostly a number


def sometimes_without(value: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    """A dict, now and then with one key dropped or an unknown one added."""

    def mutate(record: dict, drop: int, extra: bool) -> dict:
        record = dict(record)
        keys = sorted(record)
        if keys and drop < len(keys):
            record.pop(keys[drop])
        if extra:
            record["surprise"] = 1
        return record

    return st.builds(mutate, value, st.integers(0, 12), st.booleans())


# --- detections.jsonl ---------------------------------------------------------------------------

BOX = st.one_of(
    st.lists(NUMBER, min_size=4, max_size=4),
    st.lists(NUMBER, min_size=4, max_size=4),
    st.lists(MAYBE, max_size=6),
    JUNK,
)
DETECTION = sometimes_without(
    st.fixed_dictionaries(
        {
            "box": BOX,
            "score": st.floats(0, 1),
            "category_id": st.one_of(st.integers(0, 3), JUNK),
            "track_id": st.one_of(st.integers(-1, 4), st.none(), JUNK),
        }
    )
)
RECORD = sometimes_without(
    st.fixed_dictionaries(
        {
            "source": st.one_of(st.just("clip"), st.just("clip"), st.sampled_from(["b", ""]), JUNK),
            "frame": st.one_of(st.integers(-2, 6), st.integers(0, 6), JUNK),
            "detections": st.one_of(st.lists(DETECTION, max_size=3), JUNK),
            "counts": st.one_of(st.none(), st.just({"lines": {}}), JUNK),
        }
    )
)
LINE = st.one_of(
    RECORD.map(lambda r: json.dumps(r)),  # NaN and Infinity written as json.dumps does
    RECORD.map(lambda r: json.dumps(r)),
    st.one_of(JUNK, NUMBER).map(json.dumps),
    st.text(max_size=20).filter(lambda text: "\n" not in text and "\r" not in text),
)
GOOD_RECORD = st.builds(
    lambda frame, boxes: {
        "source": "clip",
        "frame": frame,
        "detections": [
            {"box": box, "score": 0.9, "category_id": 1, "track_id": index}
            for index, box in enumerate(boxes)
        ],
    },
    st.integers(0, 4),
    st.lists(st.lists(st.floats(0, 90), min_size=4, max_size=4), max_size=2),
).map(json.dumps)
# a run's records (frames drawn from few numbers, so some repeat), one of them now and then
# replaced by a hostile line
JSON_LINES = st.one_of(
    st.lists(LINE, max_size=8).map("\n".join),
    st.builds(
        lambda good, bad, at: "\n".join([*good[:at], bad, *good[at:]]),
        st.lists(GOOD_RECORD, min_size=1, max_size=6),
        st.one_of(LINE, GOOD_RECORD),
        st.integers(0, 6),
    ),
)


def finite_run(run: Run) -> str:
    """``nan`` if a kept box is not finite; ``skip`` when repeated records were dropped."""
    for boxes in run.frames.values():
        if not all(math.isfinite(value) for box in boxes.boxes for value in box):
            return "nan"
    return "skip" if run.repeated else "ok"


def run_json_lines(text: str, folder: Path) -> Run:
    path = folder / "detections.jsonl"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return read_run(path)


# --- MOTChallenge gt.txt ------------------------------------------------------------------------

FIELD = st.one_of(
    st.integers(-2, 40).map(str),
    st.integers(1, 9).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1.0", "2.5", "", "x", "-0", "1e400", "1,"]),
    st.floats(allow_nan=True).map(repr),
)
ROW = st.lists(FIELD, min_size=0, max_size=11).map(",".join)
GOOD_ROW = st.builds(
    lambda frame, track, x, y, w, h: f"{frame},{track},{x},{y},{w},{h},1,1,1.0",
    st.integers(1, 5),
    st.integers(1, 4),
    st.integers(-5, 50),
    st.integers(-5, 50),
    st.integers(1, 30),
    st.integers(1, 30),
)
MOT = st.one_of(
    st.lists(ROW, max_size=10).map("\n".join),
    st.builds(
        lambda good, bad, at: "\n".join([*good[:at], bad, *good[at:]]),
        st.lists(GOOD_ROW, min_size=1, max_size=8),
        st.one_of(ROW, GOOD_ROW),
        st.integers(0, 8),
    ),
    st.binary(max_size=60),
)


def finite_truth(frames: dict) -> str:
    for boxes in frames.values():
        values = [value for box in boxes.boxes for value in box]
        if not all(math.isfinite(value) for value in values):
            return "nan"
        if any(box[2] < box[0] or box[3] < box[1] for box in boxes.boxes):  # 1e-300 wide:
            raise AssertionError(f"a negative box was kept: {boxes.boxes}")  # empty, not < 0
    return "ok"


def run_mot(content: str | bytes, folder: Path) -> dict:
    path = folder / "gt.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return read_mot(path)


# --- counts.json ----------------------------------------------------------------------------

TALLY = st.dictionaries(st.sampled_from(["circle", "square", ""]), MAYBE, max_size=2)
COUNTS = st.one_of(
    st.fixed_dictionaries(
        {
            "counts": st.fixed_dictionaries(
                {
                    "lines": st.one_of(
                        st.dictionaries(
                            st.just("middle"),
                            st.dictionaries(
                                st.sampled_from(["in", "out"]), st.one_of(TALLY, JUNK), max_size=2
                            ),
                            max_size=1,
                        ),
                        JUNK,
                    ),
                    "zones": st.one_of(
                        st.dictionaries(
                            st.just("corner"),
                            st.one_of(
                                st.fixed_dictionaries({"entries": st.one_of(TALLY, JUNK)}), JUNK
                            ),
                            max_size=1,
                        ),
                        JUNK,
                    ),
                }
            )
        }
    ),
    st.one_of(JUNK, NUMBER),
)


def run_counts(counts: Any, folder: Path) -> dict:
    path = folder / "counts.json"
    path.write_text(json.dumps(counts))
    return read_counts(path)


def whole_counts(counts: dict) -> str:
    for directions in counts["lines"].values():
        for tally in directions.values():
            if not all(isinstance(v, int) and v >= 0 for v in tally.values()):
                raise AssertionError(f"a count that is not a whole number was kept: {tally}")
    return "ok"


# --- a checkpoint's stored model config ---------------------------------------------------------

SMALL = st.sampled_from([64, 96, 96, 128])
BACKBONE = sometimes_without(
    st.fixed_dictionaries(
        {
            "name": st.one_of(st.sampled_from(["v3_small", "v2", "v1", "v3_large"]), JUNK),
            "width_mult": st.one_of(st.sampled_from([0.25, 0.35]), MAYBE),
            "reduced_tail": st.one_of(st.booleans(), JUNK),
        }
    )
)
HEAD = st.one_of(
    st.just({}),
    st.fixed_dictionaries(
        {},
        optional={
            "extra_depths": st.one_of(
                st.lists(st.one_of(st.sampled_from([32, 64]), MAYBE), max_size=5), JUNK
            ),
            "aspect_ratios": st.one_of(st.lists(st.lists(MAYBE, max_size=3), max_size=7), JUNK),
            "min_ratio": MAYBE,
            "max_ratio": MAYBE,
            "bn_eps": MAYBE,
            "init": st.one_of(st.sampled_from(["normal", "kaiming", "xavier"]), JUNK),
            "postprocess": st.one_of(st.fixed_dictionaries({"topk_per_class": MAYBE}), JUNK),
            "mystery": JUNK,
        },
    ),
)
MODEL_CONFIG = st.one_of(
    sometimes_without(
        st.fixed_dictionaries(
            {
                "size": st.one_of(SMALL, SMALL, st.sampled_from([100_000, 0, 2049, 10**12]), JUNK),
                "backbone": st.one_of(BACKBONE, BACKBONE, JUNK),
                "head": HEAD,
            }
        )
    ),
    JUNK,
)
CATEGORIES = st.one_of(
    st.just({"ids": [1, 2, 3], "names": ["a", "b", "c"]}),
    st.just({"ids": [1, 2, 3], "names": ["a", "b", "c"]}),
    st.just({"ids": list(range(10_000)), "names": [str(i) for i in range(10_000)]}),
    st.just({"ids": [], "names": []}),
    JUNK,
)


def run_checkpoint(case: tuple[Any, Any], folder: Path) -> Any:
    """A checkpoint file carrying the generated config and no weights: every config is either
    refused before building or built and then refused for its missing weights."""
    model, categories = case
    meta = {"version": CHECKPOINT_VERSION, "model": model, "categories": categories}
    path = folder / "stranger.ckpt"
    torch.save({CHECKPOINT_KEY: meta, "state_dict": {}}, path)
    return load_checkpoint(path)


TARGETS = [
    Target("detections.jsonl", JSON_LINES, run_json_lines, finite_run),
    Target("mot gt.txt", MOT, run_mot, finite_truth),
    Target("counts.json", COUNTS, run_counts, whole_counts),
    Target("checkpoint model config", st.tuples(MODEL_CONFIG, CATEGORIES), run_checkpoint),
]
