"""A synthetic moving-shapes video with exact ground truth, for measuring tracking and counting.

Circles, squares and triangles — the shapes set's primitives (:func:`shape_mask`, its background
field and fill colours) — move in straight lines at constant speed over a still background that
gets fresh pixel noise every frame. Each enters at one edge and leaves at another, so objects
enter, leave, cross each other and pass in front of each other (each has its own depth); many
cross the known counting line, from the bottom to the top of the frame through its middle,
always wholly inside the frame when they do (and none straddles it in the first frame). The
same config and seed give the same video and ground truth.

Ground truth per frame and object, exact because it is read from the drawn pixels: the box (the
tight box of the shape's pixels inside the frame, as if nothing hid it), the visibility (pixels
seen ÷ all the shape's pixels: cut by the frame edge or hidden by a nearer shape) and the
category. :func:`write_video` writes an mp4, MOTChallenge ``gt/gt.txt`` + ``seqinfo.ini`` and
``counts.json`` (the line, a zone and their true counts); :func:`generate_moving_shapes` writes a
COCO-format training set of frames of other seeds' videos, decoded from their mp4s as a
detector will see them.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from detect.data.coco import CocoDetection
from detect.data.shapes import (
    CATEGORIES,
    background_field,
    fill_colour,
    holds_set,
    shape_mask,
    with_noise,
)
from detect.data.video import video_writer
from detect.errors import DatasetError
from detect.io import atomic_write

log = logging.getLogger(__name__)

DESCRIPTION = "synthetic moving shapes (detect.data.moving_shapes)"
FORMAT_VERSION = 3
MIN_TRAIN_VISIBILITY = 0.25  # training boxes: objects at least this visible (others unlabelled)
LINE_NAME, ZONE_NAME = "middle", "corner"
PARAMS = ("num_train", "num_val", "seed", "per_video")  # the set's own; the rest: VideoConfig


@dataclass(frozen=True)
class VideoConfig:
    """A video's size, length and traffic: ``objects`` shapes over the whole video, each of a
    size (circle diameter, square side, triangle circumscribed diameter) and speed (px per
    frame) drawn uniformly from the ranges."""

    width: int = 224
    height: int = 168
    frames: int = 500
    fps: float = 25.0
    objects: int = 18
    min_size: float = 36.0
    max_size: float = 60.0
    min_speed: float = 1.2
    max_speed: float = 3.0

    def __post_init__(self) -> None:
        if min(self.width, self.height) < 32 or self.frames < 1 or self.objects < 0:
            raise DatasetError(
                "a moving-shapes video needs width and height ≥ 32, frames ≥ 1, objects ≥ 0; "
                f"got {self.width}×{self.height}, frames={self.frames}, objects={self.objects}"
            )
        if not 0 < self.min_size <= self.max_size or not 0 < self.min_speed <= self.max_speed:
            raise DatasetError(
                "moving shapes need 0 < min_size ≤ max_size, 0 < min_speed ≤ max_speed"
            )


@dataclass(frozen=True)
class Mover:
    """One shape's path: its centre is at ``origin`` at frame ``start`` and moves by
    ``velocity`` px per frame for ``duration`` frames (from outside the frame to outside)."""

    object_id: int
    category_id: int
    size: float
    angle: float
    spin: float  # degrees per frame (squares, triangles)
    colour: tuple[int, int, int]
    depth: int  # 0 is the farthest: nearer shapes hide it
    start: float
    origin: tuple[float, float]
    velocity: tuple[float, float]
    duration: float

    @property
    def category(self) -> str:
        return CATEGORIES[self.category_id - 1]

    @property
    def reach(self) -> float:
        """The largest distance from the centre to a pixel of the shape."""
        return self.size / math.sqrt(2) if self.category == "square" else self.size / 2

    def at(self, frame: int) -> tuple[tuple[float, float], float] | None:
        """(centre, angle) at ``frame``, or None when off its path."""
        t = frame - self.start
        if not 0 <= t <= self.duration:
            return None
        centre = (self.origin[0] + self.velocity[0] * t, self.origin[1] + self.velocity[1] * t)
        return centre, self.angle + self.spin * t


@dataclass(frozen=True)
class ObjectState:
    """One object in one frame: ``box`` (x1, y1, x2, y2) pixel edges, ``visibility`` in (0, 1]."""

    object_id: int
    category_id: int
    box: tuple[int, int, int, int]
    visibility: float

    @property
    def centre(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2


def edge_point(config: VideoConfig, edge: int, t: float, margin: float) -> np.ndarray:
    """A point ``margin`` px outside edge 0 left, 1 right, 2 top, 3 bottom, at fraction ``t``."""
    w, h = config.width, config.height
    return np.array(
        [(-margin, t * h), (w + margin, t * h), (t * w, -margin), (t * w, h + margin)][edge]
    )


def path_ends(
    rng: np.random.Generator, config: VideoConfig, reach: float
) -> tuple[np.ndarray, np.ndarray]:
    """Where a path enters and leaves: outside two different edges, at 10–90 % of them, such
    that wherever the shape overlaps the middle line it is wholly in the frame (no line
    crossing is made by a sliver at the frame's top or bottom edge)."""
    middle, low, high = config.width / 2, reach + 1, config.height - reach - 1
    while True:
        entry, leave = rng.choice(4, size=2, replace=False)
        begin = edge_point(config, int(entry), rng.uniform(0.1, 0.9), reach + 1)
        end = edge_point(config, int(leave), rng.uniform(0.1, 0.9), reach + 1)
        points = begin + np.linspace(0, 1, 256)[:, None] * (end - begin)
        near = np.abs(points[:, 0] - middle) <= reach + 2
        if np.all((points[near, 1] >= low) & (points[near, 1] <= high)):
            return begin, end


class Scene:
    """The movers of one seeded video, its background, its counting line and zone."""

    def __init__(self, config: VideoConfig, seed: int) -> None:
        self.config, self.seed = config, seed
        rng = np.random.default_rng(seed)
        self.field, base = background_field(rng, config.height, config.width)
        used: list[np.ndarray] = []
        paths = []
        for _ in range(config.objects):
            category_id = int(rng.integers(1, len(CATEGORIES) + 1))
            size = rng.uniform(config.min_size, config.max_size)
            reach = size / math.sqrt(2) if category_id == 2 else size / 2
            begin, end = path_ends(rng, config, reach)
            duration = float(np.linalg.norm(end - begin)) / rng.uniform(
                config.min_speed, config.max_speed
            )
            while True:  # nothing straddles the middle line when the video begins
                start = rng.uniform(-duration / 2, config.frames - duration / 2)
                x0 = begin[0] + (end[0] - begin[0]) * (-start / duration)
                if start > 0 or start < -duration or abs(x0 - config.width / 2) > reach + 2:
                    break
            square = category_id == 2
            angle = rng.uniform(-15, 15) if square else rng.uniform(0, 360)
            spin = 0.0 if category_id == 1 else rng.uniform(-1, 1)
            colour = fill_colour(rng, base, used)
            used.append(colour)
            velocity = (end - begin) / duration
            paths.append((start, category_id, size, angle, spin, colour, begin, velocity, duration))
        depths = rng.permutation(len(paths))
        paths.sort(key=lambda path: path[0])  # ids in order of appearance
        self.movers = [
            Mover(
                object_id,
                category_id,
                float(size),
                float(angle),
                float(spin),
                tuple(int(c) for c in colour),
                int(depth),
                float(start),
                (float(begin[0]), float(begin[1])),
                (float(velocity[0]), float(velocity[1])),
                duration,
            )
            for object_id, ((start, category_id, size, angle, spin, colour, begin, velocity,
                             duration), depth) in enumerate(zip(paths, depths, strict=True), 1)
        ]  # fmt: skip
        w, h = config.width, config.height
        self.line = ((w / 2, float(h)), (w / 2, 0.0))  # "in": left → right
        self.zone = [
            (0.6 * w, 0.5 * h),
            (0.95 * w, 0.5 * h),
            (0.95 * w, 0.95 * h),
            (0.6 * w, 0.95 * h),
        ]

    def layout(self, frame: int) -> tuple[list[ObjectState], np.ndarray, list[Mover]]:
        """The objects in ``frame`` (nearest last), the owner map (H, W: index into them, -1 for
        background) and their movers."""
        h, w = self.config.height, self.config.width
        owner = np.full((h, w), -1, np.int16)
        placed: list[tuple[Mover, tuple[int, int, int, int], int]] = []
        for mover in sorted(self.movers, key=lambda m: m.depth):
            where = mover.at(frame)
            if where is None:
                continue
            (cx, cy), angle = where
            side = 2 * math.ceil(mover.reach) + 4
            ox, oy = math.floor(cx) - side // 2, math.floor(cy) - side // 2
            local = shape_mask(mover.category, (cx - ox, cy - oy), mover.size, angle, (side, side))
            x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + side, w), min(oy + side, h)
            if x0 >= x1 or y0 >= y1:
                continue
            inside = local[y0 - oy : y1 - oy, x0 - ox : x1 - ox].astype(bool)
            if not inside.any():
                continue
            bx, by, bw, bh = cv2.boundingRect(inside.astype(np.uint8))
            owner[y0:y1, x0:x1][inside] = len(placed)
            box = (x0 + bx, y0 + by, x0 + bx + bw, y0 + by + bh)
            placed.append((mover, box, int(local.sum())))
        seen = np.bincount(owner[owner >= 0], minlength=len(placed))
        states = [
            ObjectState(mover.object_id, mover.category_id, box, float(seen[i]) / total)
            for i, (mover, box, total) in enumerate(placed)
        ]
        return states, owner, [mover for mover, _, _ in placed]

    def render(self, frame: int, rng: np.random.Generator) -> tuple[np.ndarray, list[ObjectState]]:
        """Frame ``frame`` as RGB uint8 (H, W, 3), and its objects."""
        states, owner, movers = self.layout(frame)
        image = with_noise(rng, self.field)
        if movers:
            colours = np.array([mover.colour for mover in movers], np.uint8)
            shown = owner >= 0
            image[shown] = colours[owner[shown]]
        return image, states

    def ground_truth(self) -> list[list[ObjectState]]:
        """Every frame's objects (without rendering)."""
        return [self.layout(frame)[0] for frame in range(self.config.frames)]

    def true_counts(self, truth: list[list[ObjectState]]) -> dict[str, Any]:
        """Crossings of the line x = width / 2 by the box centres, per direction ("in": left
        → right) and class, and the objects whose box centre was ever in the zone, per class."""
        middle = self.config.width / 2
        (zx1, zy1), (zx2, zy2) = self.zone[0], self.zone[2]
        side: dict[int, int] = {}
        crossings = {"in": Counter(), "out": Counter()}
        entered: dict[int, str] = {}
        for states in truth:
            for state in states:
                cx, cy = state.centre
                name = CATEGORIES[state.category_id - 1]
                now = (cx > middle) - (cx < middle)
                before = side.get(state.object_id)
                if now and before and now != before:
                    crossings["in" if now > 0 else "out"][name] += 1
                if now:
                    side[state.object_id] = now
                if zx1 < cx < zx2 and zy1 < cy < zy2:
                    entered[state.object_id] = name
        return {
            "lines": {LINE_NAME: {d: dict(sorted(c.items())) for d, c in crossings.items()}},
            "zones": {ZONE_NAME: {"entries": dict(sorted(Counter(entered.values()).items()))}},
        }


@dataclass(frozen=True)
class SyntheticVideo:
    """The files :func:`write_video` wrote."""

    video: Path
    gt: Path
    counts: Path


def mot_rows(truth: list[list[ObjectState]]) -> str:
    """MOTChallenge ground truth: ``frame, id, left, top, width, height, 1, class, visibility``
    with 1-based frames and pixel coordinates (the top-left pixel is (1, 1))."""
    rows = [
        f"{frame},{s.object_id},{s.box[0] + 1},{s.box[1] + 1},{s.box[2] - s.box[0]},"
        f"{s.box[3] - s.box[1]},1,{s.category_id},{s.visibility:.4f}"
        for frame, states in enumerate(truth, 1)
        for s in states
    ]
    return "\n".join(rows) + "\n"


def write_video(
    folder: str | Path, config: VideoConfig | None = None, seed: int = 0
) -> SyntheticVideo:
    """Render the seeded video into ``folder``: ``<name>.mp4``, ``gt/gt.txt``, ``seqinfo.ini``
    and ``counts.json`` (name: ``moving_shapes_s<seed>``)."""
    config = config or VideoConfig()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = f"moving_shapes_s{seed}"
    scene = Scene(config, seed)
    noise = np.random.default_rng((seed, 1))
    video = folder / f"{name}.mp4"
    writer = video_writer(video, config.fps, (config.width, config.height))
    truth = []
    try:
        for frame in range(config.frames):
            image, states = scene.render(frame, noise)
            writer.write(np.ascontiguousarray(image[..., ::-1]))
            truth.append(states)
    finally:
        writer.release()
    gt = atomic_write(folder / "gt" / "gt.txt", mot_rows(truth))
    atomic_write(
        folder / "seqinfo.ini",
        f"[Sequence]\nname={name}\nframeRate={config.fps:g}\nseqLength={config.frames}\n"
        f"imWidth={config.width}\nimHeight={config.height}\n",
    )
    counts = {
        "video": video.name,
        "seed": seed,
        "config": asdict(config),
        "lines": [{"name": LINE_NAME, "points": [list(p) for p in scene.line]}],
        "zones": [{"name": ZONE_NAME, "points": [list(p) for p in scene.zone]}],
        "counts": scene.true_counts(truth),
    }
    counts_file = atomic_write(folder / "counts.json", json.dumps(counts, indent=1))
    return SyntheticVideo(video, gt, counts_file)


def decoded_frames(scene: Scene, seed: int, keep: set[int]) -> dict[int, np.ndarray]:
    """The frames ``keep`` of the scene's video as a detector sees them: rendered, written as
    mp4 and decoded again (RGB)."""
    config = scene.config
    noise = np.random.default_rng((seed, 1))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "video.mp4"
        writer = video_writer(path, config.fps, (config.width, config.height))
        for frame in range(max(keep) + 1):
            image, _ = scene.render(frame, noise)
            writer.write(np.ascontiguousarray(image[..., ::-1]))
        writer.release()
        capture = cv2.VideoCapture(str(path))
        frames = {}
        for frame in range(max(keep) + 1):
            ok, bgr = capture.read()
            if not ok:
                raise OSError(f"could not decode frame {frame} of {path}")
            if frame in keep:
                frames[frame] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        capture.release()
    return frames


def split_images(
    root: Path, split: str, count: int, first_seed: int, per_video: int, config: VideoConfig
) -> dict[str, Any]:
    """Write ``count`` frames (``per_video`` from each of the videos of seeds ``first_seed``,
    +1, …) under ``root/split``; return its COCO dict."""
    (root / split).mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    seed = first_seed
    while len(images) < count:
        scene = Scene(config, seed)
        step = max(1, config.frames // per_video)
        keep = {step // 2 + i * step for i in range(min(per_video, count - len(images)))}
        frames = decoded_frames(scene, seed, keep)
        for frame in sorted(keep):
            image_id = len(images) + 1
            file_name = f"{image_id:06d}.png"
            if not cv2.imwrite(str(root / split / file_name), frames[frame][..., ::-1]):
                raise OSError(f"could not write {root / split / file_name}")
            images.append(
                {
                    "id": image_id,
                    "file_name": file_name,
                    "width": config.width,
                    "height": config.height,
                    "video_seed": seed,
                    "frame": frame,
                }
            )
            states, owner, _ = scene.layout(frame)
            for index, state in enumerate(states):
                if state.visibility < MIN_TRAIN_VISIBILITY:
                    continue
                x1, y1, x2, y2 = state.box
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": state.category_id,
                        "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                        "area": float((owner == index).sum()),
                        "iscrowd": 0,
                        "visibility": round(state.visibility, 4),
                    }
                )
        seed += 1
    categories = [
        {"id": i, "name": name, "supercategory": "shape"} for i, name in enumerate(CATEGORIES, 1)
    ]
    return {"images": images, "annotations": annotations, "categories": categories}


def generate_moving_shapes(
    root: str | Path,
    num_train: int = 600,
    num_val: int = 100,
    seed: int = 1000,
    per_video: int = 20,
    **video: Any,
) -> Path:
    """A COCO-format set of moving-shapes frames under ``root`` (``train/``, ``val/``,
    ``annotations/instances_{train,val}.json``): ``per_video`` frames from each video of seeds
    ``seed``, ``seed`` + 1, … (val continues after train; keep the seeds clear of the videos you
    evaluate on), boxes of the objects at least ``MIN_TRAIN_VISIBILITY`` visible. Nothing is
    rewritten when both json files already hold these arguments."""
    root = Path(root)
    config = VideoConfig(**video)
    params = generation_params(num_train, num_val, seed, per_video, config)
    if num_train < 0 or num_val < 0 or per_video < 1:
        raise DatasetError(f"moving shapes need image counts ≥ 0 and per_video ≥ 1, got {params}")
    if is_generated(root, params):
        return root
    info = {"description": DESCRIPTION, "version": FORMAT_VERSION, "params": params}
    train_videos = -(-num_train // per_video)
    for split, count, first in (
        ("train", num_train, seed),
        ("val", num_val, seed + train_videos),
    ):
        coco = {"info": info, **split_images(root, split, count, first, per_video, config)}
        atomic_write(root / "annotations" / f"instances_{split}.json", json.dumps(coco))
    log.info("generated %d + %d moving-shapes frames at %s", num_train, num_val, root)
    return root


def generation_params(
    num_train: int = 600,
    num_val: int = 100,
    seed: int = 1000,
    per_video: int = 20,
    config: VideoConfig | None = None,
) -> dict[str, Any]:
    """What a generated set records in its ``info``: these arguments and the video config."""
    return {
        "num_train": num_train,
        "num_val": num_val,
        "seed": seed,
        "per_video": per_video,
        **asdict(config or VideoConfig()),
    }


def is_generated(root: Path, params: dict[str, Any]) -> bool:
    """Whether ``root`` holds the set these generation parameters make."""
    return holds_set(
        root, {"description": DESCRIPTION, "version": FORMAT_VERSION, "params": params}
    )


def moving_shapes_dataset(
    split: str,
    root: str | Path = "data/moving_shapes",
    generation: dict[str, Any] | None = None,
    generate: bool = True,
    **dataset_options: Any,
) -> CocoDetection:
    """One split of the moving-shapes frames, generated under ``root`` on first use
    (``generate=False``: an error instead, for a set a checkpoint records but that is gone)."""
    if split not in ("train", "val"):
        raise DatasetError(f"the moving-shapes set has train and val splits, not {split!r}")
    root = Path(root)
    generation = dict(generation or {})
    if generate:
        generate_moving_shapes(root, **generation)
    else:
        options = {k: generation.pop(k) for k in list(generation) if k in PARAMS}
        if not is_generated(root, generation_params(**options, config=VideoConfig(**generation))):
            raise DatasetError(
                f"the moving-shapes set at {root} is missing or was generated with other "
                "parameters; choose a dataset with data=<name>, or data=moving_shapes to "
                "generate it"
            )
    annotation_file = root / "annotations" / f"instances_{split}.json"
    return CocoDetection(root / split, annotation_file, **dataset_options)
