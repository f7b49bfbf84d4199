"""Video analytics on a detection stream: a tracker and a counter per source, fed each frame's
detections in the source's order.

Sources never share state: each has its own :class:`ByteTracker` (its own ids) and
:class:`TrackCounter`. A source that restarts — a looped file rewinding, a live stream
reconnecting (``Frame.segment`` changes) — starts with no tracks, so no track spans the jump;
its counts go on adding up, and ids go on counting, so an id never names two objects of one
source.
"""

from __future__ import annotations

from collections.abc import Sequence

from detect.inference.counting import CountConfig, TrackCounter
from detect.inference.outputs import Result
from detect.inference.sources import Source
from detect.inference.tracking import ByteTracker, TrackerConfig


class SourceAnalytics:
    """One source's tracker and counter, and the segment its tracks belong to."""

    def __init__(self, tracker: TrackerConfig, count: CountConfig, names: Sequence[str]) -> None:
        self.tracker = ByteTracker(tracker)
        lines, zones = count.for_source(names)
        self.counter = TrackCounter(lines, zones, count.anchor, count.margin)
        self.segment: int | None = None
        self.peak_tracks = 0

    def update(self, result: Result, score_thresh: float) -> None:
        """Track and count ``result``'s detections, then keep those that are tracked or score
        at least ``score_thresh``; sets ``track_ids``, ``trails`` and ``counts``."""
        frame = result.frame
        if frame.segment != self.segment:
            self.tracker.reset()
            self.segment = frame.segment
        found = result.detections
        ids = self.tracker.update(found.xyxy, found.scores, found.class_ids, frame.index)
        self.counter.forget(self.tracker.confirmed_ids())
        self.counter.update(found.xyxy, found.class_ids, ids, self.tracker.born)
        self.peak_tracks = max(self.peak_tracks, len(self.tracker.tracks))
        found.track_ids = ids
        keep = (ids >= 0) | (found.scores >= score_thresh)
        result.detections = found[keep]
        result.trails = self.tracker.trails(result.detections.track_ids)
        result.counts = self.counter.snapshot() if self.counter.active else None

    @property
    def ids_given(self) -> int:
        return self.tracker.next_id - 1


class Analytics:
    """The per-source analytics of a stream's sources (checked: every line's or zone's source
    is one of them)."""

    def __init__(self, tracker: TrackerConfig, count: CountConfig, sources: Sequence[Source]):
        count.check_sources([n for s in sources for n in (s.name, s.slug) if n])
        self.sources = {
            s.name: SourceAnalytics(tracker, count, [n for n in (s.name, s.slug) if n])
            for s in sources
        }
        self.low_thresh = tracker.low_thresh

    def update(self, result: Result, score_thresh: float) -> None:
        self.sources[result.frame.source].update(result, score_thresh)

    def floor(self, score_thresh: float) -> float:
        """The lowest score the tracker needs to see (its low-score stage)."""
        return min(score_thresh, self.low_thresh)
