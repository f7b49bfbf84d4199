"""Malformed datasets, generated: YOLO label lines and ``data.yaml``s, VOC XML, COCO json.

Each target writes one small set (one or two 40×30 images) with the generated file in it and
reads it with the reader a user's ``data=…`` reaches; see :mod:`fuzz.campaign` for the rules.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import numpy as np
import yaml
from fuzz.campaign import Target
from hypothesis import strategies as st

from detect.data.coco import CocoDetection
from detect.data.registry import build_dataset
from detect.data.voc import voc_dataset
from detect.data.yolo import yolo_dataset


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, drawn in proportion to the weights (near-valid inputs more often,
    so the checks past the first field are reached too)."""
    pool = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(pool).flatmap(lambda strategy: strategy)


PNG = cv2.imencode(".png", np.full((30, 40, 3), 127, np.uint8))[1].tobytes()


def judge_dataset(dataset: CocoDetection) -> str:
    """``nan`` if a kept box is not finite; ``skip`` if the report counts anything; else ``ok``."""
    if any(not np.isfinite(record.boxes).all() for record in dataset.records):
        return "nan"
    if len(dataset) != dataset.report.images:
        raise AssertionError(f"{len(dataset)} records but the report says {dataset.report.images}")
    return "ok" if dataset.report.clean else "skip"


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", errors="surrogatepass")


# --- values ---------------------------------------------------------------------------------

NUMBER_TEXT = st.one_of(
    st.sampled_from(
        [
            *("0", "1", "0.5", "0.2", "-0.5", "nan", "NaN", "inf", "-inf", "Infinity", "1e309"),
            *("-1e309", "1e-320", "", "x", "0x10", "1_000", "１", "٣", "99999999999999999999"),
            *("1e5", "+1", "--1", "1.5.2", "1.0", "1e400000"),
        ]
    ),
    st.floats().map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=6),
)
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=6), st.just([])
)


# --- YOLO label lines -------------------------------------------------------------------------

LABEL_LINE = st.lists(NUMBER_TEXT, min_size=0, max_size=7).map(" ".join)
LABEL_FILE = st.one_of(
    st.lists(LABEL_LINE, max_size=8).map("\n".join),
    st.text(max_size=60),
    st.binary(max_size=40),
)
IMAGE = st.sampled_from(["png", "png", "png", "empty", "garbage"])


def run_yolo_labels(case: tuple[str | bytes, str, bool], folder: Path) -> CocoDetection:
    label, image, as_directory = case
    write(folder / "data.yaml", "names: [a, b]\ntrain: images\nval: images\n")
    write(folder / "images" / "x.png", {"png": PNG, "empty": b"", "garbage": b"\x89PNGx"}[image])
    if as_directory:
        (folder / "labels" / "x.txt").mkdir(parents=True)
    else:
        write(folder / "labels" / "x.txt", label)
    return yolo_dataset(folder, "val")


# --- YOLO data.yaml -------------------------------------------------------------------------

NAME = st.one_of(st.sampled_from(["a", "b", "a", "person"]), st.text(max_size=10), JUNK)
NAMES = st.one_of(
    st.lists(NAME, max_size=6),
    st.dictionaries(
        st.one_of(st.integers(-2, 6), st.sampled_from(["0", "1", "2", " 1"]), st.text(max_size=3)),
        NAME,
        max_size=6,
    ),
    NAME,
    st.lists(st.lists(NAME, max_size=2), max_size=3),
)
PATH = st.one_of(
    st.sampled_from(["images", "images/", "./images", "missing", "list.txt", "labels", "."]),
    st.sampled_from(["", "x.png", "images/x.png", "/nonexistent/set", "a\nb", "\x00", "..", "/"]),
    st.text(alphabet="abimgs_-", max_size=8),
)
SPLIT = st.one_of(PATH, st.lists(PATH, max_size=3), JUNK)
DATA_YAML = st.fixed_dictionaries(
    {},
    optional={
        "names": NAMES,
        "path": st.one_of(st.sampled_from([".", "", "sub", "/nonexistent"]), JUNK),
        "train": SPLIT,
        "val": SPLIT,
        "nc": st.one_of(st.integers(0, 4), JUNK),
        "download": JUNK,
    },
)


def alias_chain(levels: int, fan: int) -> str:
    """``names`` through ``levels`` of ``fan`` aliases each (the budget's edge, both sides)."""
    lines = [f"l0: &l0 [{', '.join(['n'] * fan)}]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fan)}]")
    return "\n".join(lines) + f"\nnames: *l{levels - 1}\nval: images\n"


NEAR_VALID_YAML = st.fixed_dictionaries(
    {
        "names": weighted(
            (3, st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True)),
            (1, st.dictionaries(st.integers(0, 2), st.sampled_from(["a", "b", "c"]), min_size=1)),
            (1, NAMES),
        ),
        "val": weighted(
            (3, st.sampled_from(["images", "list.txt", "./images", "images/x.png", "missing"])),
            (1, st.lists(st.sampled_from(["images", "list.txt", "missing", "labels"]), max_size=3)),
            (1, SPLIT),
        ),
    },
    optional={"path": st.sampled_from([".", "", "sub"]), "nc": st.integers(0, 4)},
)
YAML_TEXT = weighted(
    (6, NEAR_VALID_YAML.map(lambda data: yaml.safe_dump(data, allow_unicode=True))),
    (1, DATA_YAML.map(lambda data: yaml.safe_dump(data, allow_unicode=True))),
    (
        1,
        st.text(alphabet="[]{}:,-&*!|>'\"#%@` \n\tnames:valimg01", max_size=80),
    ),
    (1, st.builds(alias_chain, st.integers(1, 9), st.integers(1, 12))),
    (
        1,
        st.sampled_from(
            [
                "names: !!python/object/apply:os.system ['echo hi']\nval: images\n",
                "names: !!binary aGVsbG8=\nval: images\n",
                "names: [a]\nval: images\nwhen: 2024-13-45\n",
                "a: &a [*a]\nnames: *a\n",
                "names: [a]\nval: images\n---\nnames: [b]\n",
                'names: [a]\nval: "a\\nb"\n',  # a line break in a path
            ]
        ),
    ),
    (1, st.binary(max_size=40)),
)


def run_data_yaml(text: str | bytes, folder: Path) -> CocoDetection:
    write(folder / "images" / "x.png", PNG)
    write(folder / "labels" / "x.txt", "0 0.5 0.5 0.2 0.2\n")
    write(folder / "list.txt", "images/x.png\n")
    write(folder / "data.yaml", text)
    return yolo_dataset(folder, "val")


# --- VOC XML --------------------------------------------------------------------------------

TEXT = st.one_of(NUMBER_TEXT, st.sampled_from(["cat", "dog", "p.png", "1", "0"]))
VOC_OBJECT = st.tuples(
    st.one_of(st.sampled_from(["cat", "dog", "cat "]), st.text(max_size=5)),  # name
    st.one_of(st.none(), st.sampled_from(["0", "1"]), TEXT),  # difficult
    st.one_of(st.none(), st.lists(st.one_of(st.none(), NUMBER_TEXT), min_size=4, max_size=4)),
)


def voc_xml(
    filename: str | None, size: tuple[str | None, str | None], objects: list, tail: str
) -> str:
    def tag(name: str, value: str | None) -> str:
        return "" if value is None else f"<{name}>{escape(value)}</{name}>"

    parts = [tag("filename", filename), "<size>", tag("width", size[0]), tag("height", size[1])]
    parts.append("</size>")
    for name, difficult, box in objects:
        parts += ["<object>", tag("name", name), tag("difficult", difficult)]
        if box is not None:
            edges = zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True)
            parts.append("<bndbox>" + "".join(tag(k, v) for k, v in edges) + "</bndbox>")
        parts.append("</object>")
    return "<annotation>" + "".join(parts) + tail + "</annotation>"


VOC_TEXT = st.one_of(
    st.builds(
        voc_xml,
        st.one_of(st.none(), st.sampled_from(["p.png", "p.jpg", "../p.png", "/", ""]), TEXT),
        st.tuples(st.one_of(st.none(), TEXT), st.one_of(st.none(), TEXT)),
        st.lists(VOC_OBJECT, max_size=4),
        st.sampled_from(["", "<object/>", "<object><bndbox/></object>", "<size/>"]),
    ),
    st.text(max_size=60),
    st.sampled_from(
        [
            '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><annotation>&x;</annotation>',
            '<!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;">'
            "]><annotation><object><name>&d;</name></object></annotation>",
            "<annotation><size>",
        ]
    ),
)
STEMS = st.one_of(st.just("p"), st.sampled_from(["p\np", "q", "p p", ""]), st.text(max_size=4))


def run_voc(case: tuple[str, str], folder: Path) -> CocoDetection:
    xml, stems = case
    write(folder / "JPEGImages" / "p.png", PNG)
    write(folder / "Annotations" / "p.xml", xml)
    write(folder / "ImageSets" / "Main" / "val.txt", stems)
    return voc_dataset(folder, "val", names=["cat", "dog"])


# --- COCO json ------------------------------------------------------------------------------

ID = st.one_of(
    st.sampled_from([1, 1, 2, 2, 3]),
    st.integers(-3, 10**20),
    st.sampled_from(["1", 1.0, True, None, [1]]),
)
SIDE = st.one_of(st.sampled_from([40, 30, 0, -1, 10**9]), st.floats(), st.text(max_size=3))
COORD = st.one_of(
    st.integers(-50, 50),
    st.floats(),
    st.sampled_from([1e308, -1e308, 2**70, "1"]),
)
BBOX = st.one_of(
    st.lists(COORD, min_size=4, max_size=4),
    st.lists(COORD, max_size=6),
    st.text(max_size=8),
    JUNK,
)
COCO_IMAGE = st.one_of(
    st.fixed_dictionaries(
        {"id": ID, "file_name": st.sampled_from(["a.png", "b.png"]), "width": st.just(40)},
        optional={"height": st.just(30)},
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "id": ID,
            "file_name": st.one_of(
                st.sampled_from(["a.png", "b.png", "missing.png", "", "../images/a.png", "."]),
                st.text(max_size=8),
                JUNK,
            ),
            "width": SIDE,
            "height": SIDE,
        },
    ),
    JUNK,
)
ANNOTATION = st.one_of(
    st.fixed_dictionaries(
        {"id": ID, "image_id": ID, "category_id": ID, "bbox": BBOX},
        optional={
            "iscrowd": st.one_of(st.integers(-1, 2), st.booleans(), st.text(max_size=1)),
            "area": COORD,
            "segmentation": st.just([]),
        },
    ),
    st.fixed_dictionaries({}, optional={"id": ID, "image_id": ID, "category_id": ID, "bbox": BBOX}),
    JUNK,
)
CATEGORY = st.one_of(
    st.fixed_dictionaries(
        {"id": ID, "name": st.one_of(st.sampled_from(["cat", "dog", "cat"]), st.text(max_size=5))}
    ),
    st.fixed_dictionaries({}, optional={"id": ID, "name": st.one_of(st.text(max_size=5), JUNK)}),
    JUNK,
)
COCO_OBJECT = st.one_of(
    st.fixed_dictionaries(
        {
            "images": st.lists(COCO_IMAGE, max_size=4),
            "annotations": st.lists(ANNOTATION, max_size=6),
            "categories": st.lists(CATEGORY, min_size=1, max_size=3),
        }
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "images": st.one_of(st.lists(COCO_IMAGE, max_size=3), JUNK),
            "annotations": st.one_of(st.lists(ANNOTATION, max_size=3), JUNK),
            "categories": st.one_of(st.lists(CATEGORY, max_size=3), JUNK),
            "info": JUNK,
        },
    ),
    JUNK,
    st.lists(JUNK, max_size=3),
)
GOOD_IMAGES = [
    {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
    {"id": 2, "file_name": "b.png", "width": 40, "height": 30},
]
GOOD_CATEGORIES = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
NEAR_VALID_ANNOTATION = st.fixed_dictionaries(
    {
        "id": st.one_of(st.integers(1, 20), ID),
        "image_id": st.one_of(st.sampled_from([1, 2, 3]), ID),
        "category_id": st.one_of(st.sampled_from([1, 2, "1", 5]), ID),
        "bbox": st.one_of(
            st.lists(st.one_of(st.integers(-5, 45), st.floats(-5, 45)), min_size=4, max_size=4),
            BBOX,
        ),
    },
    optional={"iscrowd": st.sampled_from([0, 1, 2, True]), "area": COORD},
)
NEAR_VALID_COCO = st.fixed_dictionaries(
    {
        "images": weighted((4, st.just(GOOD_IMAGES)), (1, st.lists(COCO_IMAGE, max_size=3))),
        "annotations": st.lists(weighted((3, NEAR_VALID_ANNOTATION), (1, ANNOTATION)), max_size=8),
        "categories": weighted((4, st.just(GOOD_CATEGORIES)), (1, st.lists(CATEGORY, max_size=3))),
    }
)
COCO_TEXT = weighted(
    (6, NEAR_VALID_COCO.map(json.dumps)),
    (1, COCO_OBJECT.map(json.dumps)),
    (1, COCO_OBJECT.map(lambda data: json.dumps(data)[: max(1, len(json.dumps(data)) // 2)])),
    (1, st.sampled_from(["[" * 100_000, '{"images": [], "categories": [{"id": 1e999}]}'])),
    (1, st.binary(max_size=40)),
)


def run_coco(text: str | bytes, folder: Path) -> CocoDetection:
    for name in ("a.png", "b.png"):
        write(folder / "images" / name, PNG)
    write(folder / "instances.json", text)
    return CocoDetection(folder / "images", folder / "instances.json")


# --- data configs (the command line's data=…, or what a checkpoint stores) -------------------

CONFIG_VALUE = st.one_of(
    st.sampled_from(["set", "set/images", "set/instances.json", "data.yaml", "missing", ""]),
    st.sampled_from([True, False, "skip", "raise", 0, 7, None, [], {}]),
    st.lists(st.sampled_from(["a", "b", "a"]), max_size=3),
    st.text(max_size=5),
)
RANDOM_CONFIG = st.fixed_dictionaries(
    {"format": st.sampled_from(["yolo", "voc", "coco", "nope"])},
    optional={
        "root": st.one_of(st.just("set"), CONFIG_VALUE),
        "val": st.one_of(
            st.dictionaries(
                st.sampled_from(["image_dir", "annotation_file", "yaml_file", "names", "x"]),
                CONFIG_VALUE,
                max_size=3,
            ),
            CONFIG_VALUE,
        ),
        "names": CONFIG_VALUE,
        "_target_": st.just("os.system"),
    },
)
OPTIONS = {"keep_negatives": CONFIG_VALUE, "on_bad_sample": CONFIG_VALUE}


def near_valid(fmt: str, val: st.SearchStrategy, **more: st.SearchStrategy) -> st.SearchStrategy:
    required = {"format": st.just(fmt), "root": weighted((3, st.just("set")), (1, CONFIG_VALUE))}
    return st.fixed_dictionaries({**required, "val": val}, optional={**OPTIONS, **more})


DATA_CONFIG = weighted(
    (
        3,
        near_valid(
            "yolo", st.one_of(st.just({}), st.fixed_dictionaries({"yaml_file": CONFIG_VALUE}))
        ),
    ),
    (
        3,
        near_valid(
            "coco",
            st.fixed_dictionaries(
                {
                    "image_dir": weighted((3, st.just("set/images")), (1, CONFIG_VALUE)),
                    "annotation_file": weighted(
                        (3, st.just("set/instances.json")), (1, CONFIG_VALUE)
                    ),
                }
            ),
        ),
    ),
    (1, near_valid("voc", st.just({}), names=CONFIG_VALUE)),
    (2, RANDOM_CONFIG),
)


def run_data_config(config: dict, folder: Path) -> CocoDetection:
    """A small set of each format under ``folder/set``; the config's paths are relative to
    ``folder`` (the current directory while it is read), as a command's are to its own."""
    write(folder / "set" / "images" / "a.png", PNG)
    write(folder / "set" / "data.yaml", "names: [a]\nval: images\n")
    empty = {"images": [], "categories": GOOD_CATEGORIES}
    write(folder / "set" / "instances.json", json.dumps(empty))
    resolved = json.loads(json.dumps(config).replace('"missing', '"m'))
    here = Path.cwd()
    os.chdir(folder)  # relative paths: the case's; errors name paths absolute
    try:
        return build_dataset(resolved, "val", source=f"{folder}/run.ckpt", log_report=False)
    finally:
        os.chdir(here)


TARGETS = [
    Target(
        "yolo label lines",
        st.tuples(LABEL_FILE, IMAGE, st.sampled_from([False] * 9 + [True])),  # label: a folder
        run_yolo_labels,
        judge_dataset,
    ),
    Target("yolo data.yaml", YAML_TEXT, run_data_yaml, judge_dataset),
    Target("voc xml", st.tuples(VOC_TEXT, STEMS), run_voc, judge_dataset),
    Target("coco json", COCO_TEXT, run_coco, judge_dataset),
    Target("data config", DATA_CONFIG, run_data_config, judge_dataset),
]
