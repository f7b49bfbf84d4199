"""A constant-velocity Kalman filter for boxes, vectorised over tracks.

The motion model of SORT (Bewley et al. 2016) as DeepSORT and ByteTrack (Zhang et al. 2022)
use it: state (cx, cy, a, h, vcx, vcy, va, vh) — box centre, aspect ratio w/h, height and their
velocities per frame —, measured as its first four entries; process and measurement noise
scale with the box height (position σ = h/20, velocity σ = h/160; aspect σ fixed). A
prediction spans ``dt`` frames (``dt`` > 1 when frames were dropped): the transition moves by
``dt`` × velocity and the process noise grows with ``dt``.

Written by hand, on purpose, in the form that model reduces to: F only couples a coordinate
with its own velocity and Q, R and the first covariance are diagonal, so the 8 × 8 covariance
stays four independent 2 × 2 blocks [[pp, pv], [pv, vv]], one per coordinate, for ever. A
covariance is therefore kept as (N, 3, 4) — pp, pv, vv of the four coordinates — and predict
and update are a few element-wise operations on (N, 4) arrays: the same filter as the 8 × 8
matrix form (tests check them against each other), without batched 8 × 8 products and solves,
which at a handful of tracks cost more in call overhead than in arithmetic. Means are (N, 8),
one row per track.
"""

from __future__ import annotations

import numpy as np

POSITION_STD = 1 / 20
VELOCITY_STD = 1 / 160
ASPECT_STD, ASPECT_VELOCITY_STD, ASPECT_MEASURE_STD = 1e-2, 1e-5, 1e-1
PP, PV, VV = 0, 1, 2  # a covariance's rows: position variance, covariance, velocity variance
POSITION_SCALE = np.array([1.0, 1.0, 0.0, 1.0])  # coordinates whose noise scales with height
ASPECT = np.array([0.0, 0.0, 1.0, 0.0])  # the one that does not
# σ = h × per height + fixed: of the process noise and of a new track's covariance as (3, 4)
# rows like a covariance's (position, none, velocity), and of the measurement noise as (4,)
NOISE_PER_HEIGHT = np.array([POSITION_STD, 0.0, VELOCITY_STD])[:, None] * POSITION_SCALE
INITIAL_PER_HEIGHT = np.array([2 * POSITION_STD, 0.0, 10 * VELOCITY_STD])[:, None] * POSITION_SCALE
NOISE_FIXED = np.array([ASPECT_STD, 0.0, ASPECT_VELOCITY_STD])[:, None] * ASPECT
MEASURE_PER_HEIGHT, MEASURE_FIXED = POSITION_STD * POSITION_SCALE, ASPECT_MEASURE_STD * ASPECT


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 → centre x, centre y, aspect w/h, height."""
    size = boxes[:, 2:] - boxes[:, :2]
    size[:, 1] = np.maximum(size[:, 1], 1e-6)
    out = np.empty((len(boxes), 4))
    out[:, :2] = boxes[:, :2] + size / 2
    out[:, 2] = size[:, 0] / size[:, 1]
    out[:, 3] = size[:, 1]
    return out


def xyah_to_xyxy(states: np.ndarray) -> np.ndarray:
    """(N, ≥4) states → (N, 4) x1, y1, x2, y2."""
    half = states[:, 2:4] / 2
    half[:, 0] = states[:, 2] * states[:, 3] / 2
    return np.concatenate([states[:, :2] - half, states[:, :2] + half], axis=1)


def initiate(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from (N, 4) measured boxes (:func:`xyxy_to_xyah`): zero velocity,
    uncertainty from their heights."""
    covariance = (z[:, 3, None, None] * INITIAL_PER_HEIGHT + NOISE_FIXED) ** 2
    return np.concatenate([z, np.zeros_like(z)], axis=1), covariance


def predict(mean: np.ndarray, covariance: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Every track ``dt`` frames ahead: x ← F x, P ← F P Fᵀ + dt Q, per coordinate
    (pp + 2 dt pv + dt² vv, pv + dt vv, vv), as one (3, 3) product on each (pp, pv, vv)."""
    noise = (mean[:, 3, None, None] * NOISE_PER_HEIGHT + NOISE_FIXED) ** 2  # Q: (q_p, 0, q_v)
    propagate = np.array([[1.0, 2 * dt, dt * dt], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    out = propagate @ covariance
    out += dt * noise
    mean = mean.copy()
    mean[:, :4] += dt * mean[:, 4:]
    return mean, out


def update(
    mean: np.ndarray, covariance: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Correct each track with its (N, 4) measured box (:func:`xyxy_to_xyah`; the Kalman gain
    step, per coordinate: S = pp + r, gains pp / S and pv / S)."""
    projected = covariance[:, PP] + (mean[:, 3, None] * MEASURE_PER_HEIGHT + MEASURE_FIXED) ** 2
    gain = covariance[:, :VV] / projected[:, None]  # (N, 2, 4): S = H P Hᵀ + R; K = P Hᵀ S⁻¹
    innovation = z - mean[:, :4]
    mean = mean + (gain * innovation[:, None]).reshape(len(mean), 8)
    out = covariance.copy()
    out[:, :VV] -= gain[:, PP, None] * covariance[:, :VV]  # pp, pv −= gain_p (pp, pv)
    out[:, VV] -= gain[:, PV] * covariance[:, PV]  # vv −= gain_v pv
    return mean, out
