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
Trail = tuple[list[float], ...]  # a track's recent centres, [x, y] oldest first


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
    """One object's class, state and history; its Kalman state is the tracker's row for it."""

    label: int
    last_frame: int
    born: np.ndarray  # the (4,) box it started from
    state: str = TENTATIVE
    hits: int = 1
    track_id: int | None = None
    trail: collections.deque[list[float]] = field(
        default_factory=lambda: collections.deque(maxlen=TRAIL_POINTS)
    )


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 4) × (M, 4) xyxy boxes → (N, M) intersection over union."""
    size = np.minimum(a[:, None, 2:], b[:, 2:]) - np.maximum(a[:, None, :2], b[:, :2])
    np.maximum(size, 0, out=size)
    inter = size[..., 0] * size[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(union), where=union > 0)


def assign(cost: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """The minimum-cost matching among the pairs costing less than ``limit`` (rows, cols).

    Hungarian assignment on min(cost − limit, 0): a pair at or over the limit gains nothing,
    so the optimum is the best matching of the allowed pairs (lapjv's ``cost_limit``)."""
    if cost.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    rows, cols = linear_sum_assignment(np.minimum(cost - limit, 0.0))
    keep = cost[rows, cols] < limit
    return rows[keep], cols[keep]


def associate(
    rows: list[int],
    detections: list[int],
    iou: np.ndarray,
    scores: np.ndarray,
    min_similarity: float,
    fuse_score: bool,
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """One association stage of the tracks at ``rows``: (matched (row, detection index) pairs,
    rows left, detection indices left). Similarity IoU (× score when ``fuse_score``); ``iou``
    (tracks × detections) is −1 where a track may not take a detection (another class), so
    such a pair is never similar enough."""
    if not rows or not detections:
        return [], rows, detections
    similarity = iou[np.array(rows)[:, None], detections]
    if fuse_score:
        similarity *= scores[detections]
    taken, cols = assign(-similarity, 1e-9 - min_similarity)
    taken, cols = taken.tolist(), cols.tolist()
    pairs = [(rows[r], detections[c]) for r, c in zip(taken, cols, strict=True)]
    rows_left = [r for i, r in enumerate(rows) if i not in taken]
    return pairs, rows_left, [d for j, d in enumerate(detections) if j not in cols]


class ByteTracker:
    """One source's tracks; :meth:`update` once per processed frame, in frame order.

    The Kalman states live in two arrays, ``mean`` (N, 8) and ``covariance`` (N, 3, 4), row i
    for ``tracks[i]``: a frame's prediction, matching and correction are then a few numpy calls
    on all tracks at once rather than a stack and unstack per stage (the tracker's cost is
    per-call overhead at a handful of tracks)."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.next_id = 1
        self.reset()

    def reset(self) -> None:
        """Forget every track (the source restarted); ids keep counting."""
        self.tracks: list[Track] = []
        self.mean, self.covariance = np.empty((0, 8)), np.empty((0, 3, 4))
        self.frame: int | None = None

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
        ids = np.full(len(boxes), -1, np.int64)
        measured = kalman.xyxy_to_xyah(boxes)
        centres = ((boxes[:, :2] + boxes[:, 2:]) / 2).tolist()
        tracks = self.tracks
        states = [t.state for t in tracks]
        if tracks:
            self.predict(dt, states)
        # IoU of every track's predicted box with every detection, −1 across classes: each
        # stage takes its rows and columns of it
        iou = box_iou(kalman.xyah_to_xyxy(self.mean), boxes)
        track_labels = np.array([t.label for t in tracks], np.int64)
        iou[track_labels[:, None] != labels[None, :]] = -1.0
        # thresholds rounded to the scores' precision: the comparisons numpy would make
        high_thresh, low_thresh, new_thresh = (
            float(scores.dtype.type(t))
            for t in (cfg.high_thresh, cfg.low_thresh, cfg.new_track_thresh)
        )
        score_list = scores.tolist()
        high = [d for d, score in enumerate(score_list) if score >= high_thresh]
        low = [d for d, score in enumerate(score_list) if low_thresh <= score < high_thresh]

        pool = [i for i, state in enumerate(states) if state != TENTATIVE]
        first, pool_left, high = associate(pool, high, iou, scores, cfg.match_iou, True)
        tracked = [i for i in pool_left if states[i] == TRACKED]
        second, tracked_left, _ = associate(tracked, low, iou, scores, cfg.low_match_iou, False)
        for i in tracked_left:
            tracks[i].state = LOST
        tentative = [i for i, state in enumerate(states) if state == TENTATIVE]
        third, missed, high = associate(tentative, high, iou, scores, cfg.tentative_match_iou, True)
        matches = first + second + third

        if matches:
            rows = [i for i, _ in matches]
            dets = [d for _, d in matches]
            self.mean[rows], self.covariance[rows] = kalman.update(
                self.mean[rows], self.covariance[rows], measured[dets]
            )
            for i, det in matches:
                track = tracks[i]
                track.last_frame = frame
                if track.state == TENTATIVE:
                    track.hits += 1
                    if track.hits >= cfg.confirm_hits:
                        self.confirm(track)
                else:
                    track.state = TRACKED
                track.trail.append(centres[det])
                if track.track_id is not None:
                    ids[det] = track.track_id
        # a lost track found again is not expired, however long it was gone
        gone = set(missed) | {
            i
            for i, t in enumerate(tracks)
            if t.state == LOST and frame - t.last_frame > cfg.lost_frames
        }
        if gone:
            keep = [i for i in range(len(tracks)) if i not in gone]
            self.tracks = [tracks[i] for i in keep]
            self.mean, self.covariance = self.mean[keep], self.covariance[keep]

        new = [d for d in high if score_list[d] >= new_thresh]
        if new:
            mean, covariance = kalman.initiate(measured[new])
            self.mean = np.concatenate([self.mean, mean])
            self.covariance = np.concatenate([self.covariance, covariance])
            for det in new:
                track = Track(int(labels[det]), frame, boxes[det].copy())
                if cfg.confirm_hits <= 1:
                    self.confirm(track)
                    ids[det] = track.track_id
                track.trail.append(centres[det])
                self.tracks.append(track)
        return ids

    def predict(self, dt: int, states: list[str]) -> None:
        """Every track ``dt`` frames ahead (a track not tracked until now keeps its height, as
        in the reference)."""
        still = [i for i, state in enumerate(states) if state != TRACKED]
        if still:
            self.mean[still, 7] = 0.0
        self.mean, self.covariance = kalman.predict(self.mean, self.covariance, float(dt))

    def confirm(self, track: Track) -> None:
        track.state, track.track_id = TRACKED, self.next_id
        self.next_id += 1

    def born(self, track_id: int) -> np.ndarray:
        """The box the confirmed track ``track_id`` started from."""
        return next(t.born for t in self.tracks if t.track_id == track_id)

    def trails(self, ids: np.ndarray) -> dict[int, Trail]:
        """The recent centres ([x, y], oldest first) of the confirmed tracks ``ids`` (as
        drawn)."""
        wanted = set(ids[ids >= 0].tolist())
        return {t.track_id: tuple(t.trail) for t in self.tracks if t.track_id in wanted}
