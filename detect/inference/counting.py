"""Counting tracks: crossings of lines per class and direction, and polygon zones' occupancy and
entries per class, one :class:`TrackCounter` per source.

A track is counted by its anchor point (the box centre, or its bottom centre) and only once it
is confirmed (it has an id). A line is a segment from its first point to its second: a track
crosses it when the path from its last anchor on one side to its anchor on the other passes
through the segment (passing beside its ends is no crossing); a track is on a side once its
anchor is more than ``margin`` × its box height away from the line, so detections jittering
about the line do not count it back and forth. ``in`` is a crossing from the
left-hand to the right-hand side of someone walking the line from its first point to its
second (a line drawn left → right on the screen: moving down; drawn bottom → top: moving
right), ``out`` the other way. Each track is counted at most once per line and direction, and
every line keeps its own state, so one object crossing one line moves no other line's count.
A zone's occupancy is the tracks seen in this frame whose anchor is inside; its entries count
each track once, the first time it is seen inside. Per-track state lives only as long as the
track does (the tracker says which ids are alive), so memory stays bounded on an endless
stream.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.path import Path as Polygon

from detect.errors import ConfigError

ANCHORS = ("center", "bottom")
DIRECTIONS = ("in", "out")

Point = tuple[float, float]


@dataclass(frozen=True)
class Line:
    """A counting line from ``start`` to ``end`` (pixels); ``source``: the source it belongs
    to (its name or output slug), None for every source."""

    name: str
    start: Point
    end: Point
    source: str | None = None


@dataclass(frozen=True)
class Zone:
    """A counting polygon (pixels, ≥ 3 points); ``source`` as for :class:`Line`."""

    name: str
    points: tuple[Point, ...]
    source: str | None = None


def _points(value: Any, what: str) -> list[Point]:
    """[[x, y], …] or a flat [x1, y1, x2, y2, …] as a list of (x, y)."""
    values = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else None
    if values and all(isinstance(v, (int, float)) for v in values) and len(values) % 2 == 0:
        values = [values[i : i + 2] for i in range(0, len(values), 2)]
    try:
        points = [(float(x), float(y)) for x, y in values]
    except (TypeError, ValueError):
        raise ConfigError(
            f"{what}: points must be [[x, y], …] in pixels (or [x1, y1, x2, y2, …]), not {value!r}"
        ) from None
    if not all(math.isfinite(c) for point in points for c in point):
        raise ConfigError(f"{what}: points must be finite numbers (pixels), not {value!r}")
    return points


def _segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether segments ab and cd share a point (touching and collinear overlap included)."""
    d1, d2 = _cross(a, b, c), _cross(a, b, d)
    d3, d4 = _cross(c, d, a), _cross(c, d, b)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True

    def on(p: Point, q: Point, r: Point) -> bool:  # r on segment pq, given collinear
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(
            p[1], q[1]
        )

    return (
        (d1 == 0 and on(a, b, c))
        or (d2 == 0 and on(a, b, d))
        or (d3 == 0 and on(c, d, a))
        or (d4 == 0 and on(c, d, b))
    )


def self_crossing(points: Sequence[Point]) -> tuple[int, int] | None:
    """The first two edges (indices, edge i from point i to i + 1) of a closed polygon that
    cross or touch other than at their shared corner; None for a simple polygon. A crossing
    zone has no clear inside (matplotlib's even-odd rule counts its overlap as outside)."""
    count = len(points)
    edges = [(points[i], points[(i + 1) % count]) for i in range(count)]
    for i in range(count):
        for j in range(i + 1, count):
            if j == i + 1 or (i == 0 and j == count - 1):  # neighbours share a corner
                continue
            if _segments_cross(*edges[i], *edges[j]):
                return i, j
    return None


def _entry(spec: Any, kind: str, index: int) -> tuple[str, list[Point], str | None]:
    """A line or zone given as points alone or as {name, points, source}."""
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"name", "points", "source"}
        if unknown:
            raise ConfigError(
                f"count.{kind}[{index}]: unknown key(s) {sorted(unknown)}; a {kind[:-1]} has "
                "name, points and source"
            )
        name = str(spec.get("name") or f"{kind[:-1]}{index + 1}")
        source = spec.get("source")
        points = _points(spec.get("points"), f"count.{kind}[{index}] ({name})")
        return name, points, None if source is None else str(source)
    name = f"{kind[:-1]}{index + 1}"
    return name, _points(spec, f"count.{kind}[{index}]"), None


@dataclass(frozen=True)
class CountConfig:
    """The lines and zones to count on, and the anchor point of a track's box."""

    lines: tuple[Line, ...] = ()
    zones: tuple[Zone, ...] = ()
    anchor: str = "center"
    margin: float = 0.05

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ConfigError(
                f"count.margin is a fraction of the box height in [0, 1), not {self.margin}"
            )
        if self.anchor not in ANCHORS:
            raise ConfigError(
                f"count.anchor must be one of {', '.join(ANCHORS)}, not {self.anchor!r}"
            )
        names = [line.name for line in self.lines] + [zone.name for zone in self.zones]
        doubles = sorted({name for name in names if names.count(name) > 1})
        if doubles:
            raise ConfigError(f"count: lines and zones need distinct names; {doubles} repeat")

    @property
    def active(self) -> bool:
        return bool(self.lines or self.zones)

    @classmethod
    def from_plain(
        cls,
        lines: Sequence[Any] = (),
        zones: Sequence[Any] = (),
        anchor: str = "center",
        margin: float = 0.05,
    ) -> CountConfig:
        """From config values: each line ``[x1, y1, x2, y2]``, ``[[x1, y1], [x2, y2]]`` or
        ``{name, points, source}``; each zone the same with ≥ 3 points."""
        built_lines, built_zones = [], []
        for index, spec in enumerate(lines or ()):
            name, points, source = _entry(spec, "lines", index)
            if len(points) != 2:
                raise ConfigError(
                    f"count.lines[{index}] ({name}): a line needs exactly two points "
                    f"[[x1, y1], [x2, y2]], not {len(points)} (a path of several segments: "
                    "give one line per segment)"
                )
            if points[0] == points[1]:
                raise ConfigError(
                    f"count.lines[{index}] ({name}): a line needs two distinct points; its "
                    f"two are the same, {list(points[0])}"
                )
            built_lines.append(Line(name, points[0], points[1], source))
        for index, spec in enumerate(zones or ()):
            name, points, source = _entry(spec, "zones", index)
            if len(points) < 3:
                raise ConfigError(f"count.zones[{index}] ({name}): a zone needs at least 3 points")
            crossing = self_crossing(points)
            if crossing is not None:
                i, j = crossing
                raise ConfigError(
                    f"count.zones[{index}] ({name}): its edges {i + 1} and {j + 1} cross (a "
                    "self-intersecting polygon has no clear inside); list the corners in order "
                    "around the zone"
                )
            built_zones.append(Zone(name, tuple(points), source))
        return cls(tuple(built_lines), tuple(built_zones), anchor, margin)

    def for_source(self, names: Sequence[str]) -> tuple[list[Line], list[Zone]]:
        """The lines and zones of the source known by any of ``names`` (name, slug)."""
        lines = [line for line in self.lines if line.source is None or line.source in names]
        zones = [zone for zone in self.zones if zone.source is None or zone.source in names]
        return lines, zones

    def check_sources(self, known: Sequence[str]) -> None:
        """Every line's and zone's ``source`` names a source (by name or slug)."""
        for item in (*self.lines, *self.zones):
            if item.source is not None and item.source not in known:
                raise ConfigError(
                    f"count: {item.name!r} is for source {item.source!r}, which is not one of "
                    f"this run's: {', '.join(sorted(set(known)))}"
                )


def anchors(boxes: np.ndarray, anchor: str) -> np.ndarray:
    """(D, 4) xyxy → (D, 2) anchor points: box centres, or bottom centres."""
    points = (boxes[:, :2] + boxes[:, 2:]) / 2
    if anchor == "bottom":
        points[:, 1] = boxes[:, 3]
    return points


def _cross(o: Point, a: Point, b: Point) -> float:
    """z of (a − o) × (b − o): > 0 when b is to the right of o → a on screen (y down)."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


@dataclass
class Counts:
    """A source's counts so far, by class (category id): ``crossings[line][direction]``,
    ``inside[zone]`` (this frame), ``entries[zone]``; with the geometry, for drawing."""

    lines: tuple[Line, ...]
    zones: tuple[Zone, ...]
    crossings: dict[str, dict[str, Counter[int]]]
    inside: dict[str, Counter[int]]
    entries: dict[str, Counter[int]]

    def named(self, names: Mapping[int, str] | None = None) -> dict[str, Any]:
        """As plain data with category names (``names``: class → name; the class numbers
        without it): {"lines":
        {line: {"in": {name: n}, "out": …}}, "zones": {zone: {"inside": {…}, "entries": {…}}}}
        (classes with no count left out)."""

        def plain(counter: Counter[int]) -> dict[str, int]:
            return {
                (names or {}).get(label, str(label)): n for label, n in sorted(counter.items()) if n
            }

        return {
            "lines": {
                line: {d: plain(counter) for d, counter in directions.items()}
                for line, directions in self.crossings.items()
            },
            "zones": {
                zone.name: {
                    "inside": plain(self.inside[zone.name]),
                    "entries": plain(self.entries[zone.name]),
                }
                for zone in self.zones
            },
        }


@dataclass
class TrackMemory:
    """What the counter remembers of one live track: per line, its last side (±1) and the
    anchor it had there; the (line, direction) pairs and zones it was counted in."""

    sides: dict[str, tuple[int, Point]] = field(default_factory=dict)
    counted: set[tuple[str, str]] = field(default_factory=set)
    entered: set[str] = field(default_factory=set)


class TrackCounter:
    """Counts one source's confirmed tracks on its lines and zones."""

    def __init__(
        self,
        lines: Sequence[Line],
        zones: Sequence[Zone],
        anchor: str = "center",
        margin: float = 0.05,
    ) -> None:
        self.lines, self.zones, self.anchor, self.margin = (
            tuple(lines),
            tuple(zones),
            anchor,
            margin,
        )
        self.polygons = [Polygon(np.array(zone.points)) for zone in self.zones]
        self.lengths = [math.dist(line.start, line.end) for line in self.lines]
        self.crossings = {line.name: {d: Counter() for d in DIRECTIONS} for line in self.lines}
        self.entries = {zone.name: Counter() for zone in self.zones}
        self.inside = {zone.name: Counter() for zone in self.zones}
        self.memory: dict[int, TrackMemory] = {}
        self.last_snapshot: Counts | None = None  # None once a count has changed since

    @property
    def active(self) -> bool:
        """It has a line or a zone to count on."""
        return bool(self.lines or self.zones)

    def forget(self, alive: set[int]) -> None:
        """Drop the memory of tracks that no longer exist (all of them on a reset)."""
        for track_id in [t for t in self.memory if t not in alive]:
            del self.memory[track_id]

    def update(
        self,
        boxes: np.ndarray,
        labels: np.ndarray,
        ids: np.ndarray,
        origin: Callable[[int], np.ndarray] | None = None,
    ) -> None:
        """One frame's tracked detections (those with id ≥ 0 count). ``origin(id)``: the box
        a newly confirmed track was born with, so a line crossed while it was tentative is
        counted on its confirmation."""
        tracked = ids >= 0
        boxes = boxes[tracked]
        points = anchors(boxes, self.anchor)
        heights = (boxes[:, 3] - boxes[:, 1]).tolist()
        labels, ids = labels[tracked].tolist(), ids[tracked].tolist()
        inside = {zone.name: Counter() for zone in self.zones}
        # plain floats from here: numpy scalars cost more than the arithmetic at a few tracks
        for point, height, label, track_id in zip(
            points.tolist(), heights, labels, ids, strict=True
        ):
            memory = self.memory.get(track_id)
            if memory is None:
                memory = self.memory[track_id] = TrackMemory()
                if origin is not None:
                    born = origin(track_id)[None, :]
                    start = anchors(born, self.anchor)[0].tolist()
                    born_height = float(born[0, 3] - born[0, 1])
                    for line, length in zip(self.lines, self.lengths, strict=True):
                        self.cross(line, length, memory, start, label, born_height)
            for line, length in zip(self.lines, self.lengths, strict=True):
                self.cross(line, length, memory, point, label, height)
        for zone, polygon in zip(self.zones, self.polygons, strict=True):
            if not ids:
                break
            for within, label, track_id in zip(
                polygon.contains_points(points), labels, ids, strict=True
            ):
                if not within:
                    continue
                inside[zone.name][label] += 1
                memory = self.memory[track_id]
                if zone.name not in memory.entered:
                    memory.entered.add(zone.name)
                    self.entries[zone.name][label] += 1
                    self.last_snapshot = None
        if inside != self.inside:
            self.inside, self.last_snapshot = inside, None

    def cross(
        self,
        line: Line,
        length: float,
        memory: TrackMemory,
        point: Point,
        label: int,
        height: float,
    ) -> None:
        """Count ``line`` (``length`` long) if the track went from one side to the other
        through the segment."""
        start, end = line.start, line.end
        distance = _cross(start, end, point) / length
        if abs(distance) <= self.margin * height:
            return  # on the line or about it: wait to see which side it goes to
        side = 1 if distance > 0 else -1
        before = memory.sides.get(line.name)
        memory.sides[line.name] = (side, point)
        if before is None or before[0] == side:
            return
        last = before[1]
        through = _cross(last, point, start) * _cross(last, point, end) <= 0
        direction = "in" if side > 0 else "out"
        if through and (line.name, direction) not in memory.counted:
            memory.counted.add((line.name, direction))
            self.crossings[line.name][direction][label] += 1
            self.last_snapshot = None

    def snapshot(self) -> Counts:
        """The counts now (copies: later frames do not change them; the same object while
        nothing has changed — a snapshot is not to be modified)."""
        if self.last_snapshot is None:
            self.last_snapshot = self.take_snapshot()
        return self.last_snapshot

    def take_snapshot(self) -> Counts:
        return Counts(
            self.lines,
            self.zones,
            {
                line: {d: Counter(c) for d, c in directions.items()}
                for line, directions in self.crossings.items()
            },
            {zone: Counter(c) for zone, c in self.inside.items()},
            {zone: Counter(c) for zone, c in self.entries.items()},
        )
