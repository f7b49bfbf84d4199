"""Multi-object tracking by detection: ByteTrack (Zhang et al. 2022, "ByteTrack: Multi-Object
Tracking by Associating Every Detection Box"), one :class:`ByteTracker` per source.

Each frame, after a Kalman prediction of every track (:mod:`detect.inference.kalman`):

1. the high-score detections (≥ ``high_thresh``) are matched to the confirmed tracks, tracked
   and lost, on IoU × score (ByteTrack's fused cost 1 − IoU·score), pairs below
   ``match_iou`` refused;
2. the confirmed tracks left that were tracked until now are matched to the low-score
   detections (``low_thresh`` ≤ score < ``high_thresh``) on IoU ≥ ``low_match_iou``: the
   occluded or blurred objects a score threshold would lose. Tracks still unmatched are lost;
3. tentative tracks are matched to the high-score detections left (IoU × score ≥
   ``tentative_match_iou``); a tentative track that misses is deleted, one matched
   ``confirm_hits`` frames in a row is confirmed and only then gets its id;
4. the high-score detections left (≥ ``new_track_thresh``) start tentative tracks;
5. lost tracks unseen for more than ``lost_frames`` source frames are deleted.

Each stage is one optimal assignment (scipy's Hungarian ``linear_sum_assignment``) restricted
to the pairs under the stage's cost limit, as ByteTrack's ``lap.lapjv(cost_limit=…)``.

Where this differs from the reference script, on purpose: matching is class-aware (a track
keeps its class and takes only detections of it) and ids come from one counter per tracker,
so two classes never share an id; ids are given at confirmation, so tentative tracks never
reach the output or the counts; nothing keeps removed tracks (the script's ``removed_stracks``
grows for ever), so memory is bounded by the live tracks: at most ``lost_frames`` + 1 frames'
worth of detections; ``update(…, frame)`` takes the source's frame index, so a prediction spans
the frames since the last update and lost ages count source frames — frames dropped in realtime
mode neither break tracks nor age them faster; ``reset()`` forgets every track (a source that
restarts) while ids keep counting, so an id never names two objects of one source.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from detect.errors import ConfigError
from detect.inference import kalman

TRACKERS = ("bytetrack",)
TENTATIVE, TRACKED, LOST = "tentative", "tracked", "lost"
TRAIL_POINTS = 20  # centres kept per track for drawing its trail


@dataclass(frozen=True)
class TrackerConfig:
    """ByteTrack's settings (its MOT17 values; ``lost_frames`` is its 30-frame track buffer)."""

    high_thresh: float = 0.5
    low_thresh: float = 0.1
    new_track_thresh: float = 0.6
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    tentative_match_iou: float = 0.3
    confirm_hits: int = 2
    lost_frames: int = 30

    def __post_init__(self) -> None:
        if not 0 <= self.low_thresh <= self.high_thresh <= self.new_track_thresh <= 1:
            raise ConfigError(
                "tracker: need 0 ≤ low_thresh ≤ high_thresh ≤ new_track_thresh ≤ 1, got "
                f"{self.low_thresh}, {self.high_thresh}, {self.new_track_thresh}"
            )
        ious = (self.match_iou, self.low_match_iou, self.tentative_match_iou)
        if not all(0 < iou <= 1 for iou in ious):
            raise ConfigError(f"tracker: the match IoUs must be in (0, 1], got {ious}")
        if self.confirm_hits < 1 or self.lost_frames < 0:
            raise ConfigError(
                f"tracker: need confirm_hits ≥ 1 and lost_frames ≥ 0, got {self.confirm_hits} "
                f"and {self.lost_frames}"
            )


@dataclass(eq=False)
class Track:
    """One object's Kalman state (mean (8,), covariance (8, 8)), class and history."""

    label: int
    mean: np.ndarray
    covariance: np.ndarray
    last_frame: int
    born: np.ndarray  # the (4,) box it started from
    state: str = TENTATIVE
    hits: int = 1
    track_id: int | None = None
    trail: collections.deque[tuple[float, float]] = field(
        default_factory=lambda: collections.deque(maxlen=TRAIL_POINTS)
    )


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) × (M, 4) xyxy boxes → (N, M) intersection over union."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def assign(cost: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """The minimum-cost matching among the pairs costing less than ``limit`` (rows, cols).

    Hungarian assignment on min(cost − limit, 0): a pair at or over the limit gains nothing,
    so the optimum is the best matching of the allowed pairs (lapjv's ``cost_limit``)."""
    if cost.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rows, cols = linear_sum_assignment(np.minimum(cost - limit, 0.0))
    keep = cost[rows, cols] < limit
    return rows[keep], cols[keep]


class ByteTracker:
    """One source's tracks; :meth:`update` once per processed frame, in frame order."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self.frame: int | None = None
        self.next_id = 1

    def reset(self) -> None:
        """Forget every track (the source restarted); ids keep counting."""
        self.tracks, self.frame = [], None

    def confirmed_ids(self) -> set[int]:
        """Ids of the confirmed tracks still alive (tracked or lost)."""
        return {t.track_id for t in self.tracks if t.track_id is not None}

    def update(
        self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, frame: int
    ) -> np.ndarray:
        """Associate one frame's detections ((D, 4) xyxy, (D,) scores, (D,) labels) at source
        frame index ``frame``; returns (D,) track ids, -1 where a detection is not (yet) part
        of a confirmed track."""
        cfg = self.config
        dt = 1 if self.frame is None else max(1, frame - self.frame)
        self.frame = frame
        self.predict(dt)
        ids = np.full(len(boxes), -1, np.int64)
        high = np.flatnonzero(scores >= cfg.high_thresh)
        low = np.flatnonzero((scores >= cfg.low_thresh) & (scores < cfg.high_thresh))
        matches: list[tuple[Track, int]] = []

        pool = [t for t in self.tracks if t.state != TENTATIVE]
        pairs, pool_left, high = self.match(pool, high, boxes, scores, labels, cfg.match_iou, True)
        matches += pairs
        tracked = [t for t in pool_left if t.state == TRACKED]
        pairs, tracked_left, _ = self.match(
            tracked, low, boxes, scores, labels, cfg.low_match_iou, False
        )
        matches += pairs
        for track in tracked_left:
            track.state = LOST
        tentative = [t for t in self.tracks if t.state == TENTATIVE]
        pairs, missed, high = self.match(
            tentative, high, boxes, scores, labels, cfg.tentative_match_iou, True
        )
        matches += pairs
        found = {id(track) for track, _ in matches}  # found again: not expired, however long
        gone = {id(t) for t in missed} | {
            id(t)
            for t in self.tracks
            if t.state == LOST and id(t) not in found and frame - t.last_frame > cfg.lost_frames
        }
        self.tracks = [t for t in self.tracks if id(t) not in gone]

        if matches:
            matched = [track for track, _ in matches]
            rows = [det for _, det in matches]
            mean, covariance = kalman.update(
                np.stack([t.mean for t in matched]),
                np.stack([t.covariance for t in matched]),
                boxes[rows],
            )
            for i, (track, det) in enumerate(matches):
                track.mean, track.covariance = mean[i], covariance[i]
                track.last_frame = frame
                if track.state == TENTATIVE:
                    track.hits += 1
                    if track.hits >= cfg.confirm_hits:
                        self.confirm(track)
                else:
                    track.state = TRACKED
                self.mark(track, boxes[det])
                if track.track_id is not None:
                    ids[det] = track.track_id

        new = high[scores[high] >= cfg.new_track_thresh]
        if len(new):
            mean, covariance = kalman.initiate(boxes[new])
            for i, det in enumerate(new):
                track = Track(int(labels[det]), mean[i], covariance[i], frame, boxes[det].copy())
                if cfg.confirm_hits <= 1:
                    self.confirm(track)
                    ids[det] = track.track_id
                self.mark(track, boxes[det])
                self.tracks.append(track)
        return ids

    def predict(self, dt: int) -> None:
        """Every track ``dt`` frames ahead (a lost track's height stops changing, as in the
        reference)."""
        if not self.tracks:
            return
        mean = np.stack([t.mean for t in self.tracks])
        for i, track in enumerate(self.tracks):
            if track.state != TRACKED:
                mean[i, 7] = 0.0
        covariance = np.stack([t.covariance for t in self.tracks])
        mean, covariance = kalman.predict(mean, covariance, np.full(len(mean), float(dt)))
        for i, track in enumerate(self.tracks):
            track.mean, track.covariance = mean[i], covariance[i]

    def match(
        self,
        tracks: list[Track],
        detections: np.ndarray,
        boxes: np.ndarray,
        scores: np.ndarray,
        labels: np.ndarray,
        min_similarity: float,
        fuse_score: bool,
    ) -> tuple[list[tuple[Track, int]], list[Track], np.ndarray]:
        """One association stage: (matched (track, detection index) pairs, tracks left,
        detection indices left). Similarity IoU (× score when ``fuse_score``); a track only
        takes detections of its class."""
        if not tracks or not len(detections):
            return [], tracks, detections
        predicted = kalman.xyah_to_xyxy(np.stack([t.mean for t in tracks]))
        similarity = box_iou(predicted, boxes[detections])
        if fuse_score:
            similarity = similarity * scores[detections][None, :]
        same_class = np.array([t.label for t in tracks])[:, None] == labels[detections][None, :]
        cost = np.where(same_class, 1.0 - similarity, np.inf)
        rows, cols = assign(cost, 1.0 - min_similarity + 1e-9)
        pairs = [(tracks[r], int(detections[c])) for r, c in zip(rows, cols, strict=True)]
        taken_rows, taken_cols = set(rows.tolist()), set(cols.tolist())
        left = [t for i, t in enumerate(tracks) if i not in taken_rows]
        rest = np.array([d for j, d in enumerate(detections) if j not in taken_cols], np.int64)
        return pairs, left, rest

    def confirm(self, track: Track) -> None:
        track.state, track.track_id = TRACKED, self.next_id
        self.next_id += 1

    @staticmethod
    def mark(track: Track, box: np.ndarray) -> None:
        track.trail.append((float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2))

    def born(self, track_id: int) -> np.ndarray:
        """The box the confirmed track ``track_id`` started from."""
        return next(t.born for t in self.tracks if t.track_id == track_id)

    def trails(self, ids: np.ndarray) -> dict[int, np.ndarray]:
        """The recent centres ((P, 2)) of the confirmed tracks ``ids`` (as drawn)."""
        wanted = set(ids[ids >= 0].tolist())
        return {
            t.track_id: np.array(t.trail, np.float32) for t in self.tracks if t.track_id in wanted
        }
