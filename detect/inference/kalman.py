"""A constant-velocity Kalman filter for boxes, vectorised over tracks.

The motion model of SORT (Bewley et al. 2016) as DeepSORT and ByteTrack (Zhang et al. 2022)
use it: state (cx, cy, a, h, vcx, vcy, va, vh) — box centre, aspect ratio w/h, height and their
velocities per frame —, measured as its first four entries; process and measurement noise
scale with the box height (position σ = h/20, velocity σ = h/160; aspect σ fixed). A
prediction spans ``dt`` frames (``dt`` > 1 when frames were dropped): the transition moves by
``dt`` × velocity and the process noise grows with ``dt``. Arrays are (N, 8) means and
(N, 8, 8) covariances, one row per track, so a frame's predict and update are a few numpy
calls whatever the number of tracks.
"""

from __future__ import annotations

import numpy as np

POSITION_STD = 1 / 20
VELOCITY_STD = 1 / 160
ASPECT_STD, ASPECT_VELOCITY_STD, ASPECT_MEASURE_STD = 1e-2, 1e-5, 1e-1


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x1, y1, x2, y2 → centre x, centre y, aspect w/h, height."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    h = np.maximum(h, 1e-6)
    return np.stack([boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w / h, h], axis=1)


def xyah_to_xyxy(states: np.ndarray) -> np.ndarray:
    """(N, ≥4) states → (N, 4) x1, y1, x2, y2."""
    cx, cy, a, h = states[:, 0], states[:, 1], states[:, 2], states[:, 3]
    w = a * h
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _diag(std: np.ndarray) -> np.ndarray:
    """(N, k) standard deviations → (N, k, k) diagonal covariances."""
    return np.einsum("ni,ij->nij", std**2, np.eye(std.shape[1]))


def initiate(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from (N, 4) xyxy boxes: zero velocity, uncertainty from their heights."""
    z = xyxy_to_xyah(boxes)
    h = z[:, 3:4]
    mean = np.concatenate([z, np.zeros_like(z)], axis=1)
    one = np.ones_like(h)
    std = np.concatenate(
        [
            2 * POSITION_STD * h,
            2 * POSITION_STD * h,
            ASPECT_STD * one,
            2 * POSITION_STD * h,
            10 * VELOCITY_STD * h,
            10 * VELOCITY_STD * h,
            ASPECT_VELOCITY_STD * one,
            10 * VELOCITY_STD * h,
        ],
        axis=1,
    )
    return mean, _diag(std)


def predict(
    mean: np.ndarray, covariance: np.ndarray, dt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each track ``dt[i]`` frames ahead: x ← F x, P ← F P Fᵀ + dt Q."""
    n = len(mean)
    transition = np.tile(np.eye(8), (n, 1, 1))
    transition[:, range(4), range(4, 8)] = dt[:, None]
    h = mean[:, 3:4]
    one = np.ones_like(h)
    std = np.concatenate(
        [
            POSITION_STD * h,
            POSITION_STD * h,
            ASPECT_STD * one,
            POSITION_STD * h,
            VELOCITY_STD * h,
            VELOCITY_STD * h,
            ASPECT_VELOCITY_STD * one,
            VELOCITY_STD * h,
        ],
        axis=1,
    )
    mean = np.einsum("nij,nj->ni", transition, mean)
    covariance = transition @ covariance @ transition.transpose(0, 2, 1)
    return mean, covariance + _diag(std) * dt[:, None, None]


def update(
    mean: np.ndarray, covariance: np.ndarray, boxes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Correct each track with its measured (N, 4) xyxy box (the Kalman gain step)."""
    z = xyxy_to_xyah(boxes)
    h = mean[:, 3:4]
    std = np.concatenate(
        [
            POSITION_STD * h,
            POSITION_STD * h,
            ASPECT_MEASURE_STD * np.ones_like(h),
            POSITION_STD * h,
        ],
        axis=1,
    )
    projected = covariance[:, :4, :4] + _diag(std)  # S = H P Hᵀ + R
    cross = covariance[:, :, :4]  # P Hᵀ
    gain = np.linalg.solve(projected, cross.transpose(0, 2, 1)).transpose(0, 2, 1)  # P Hᵀ S⁻¹
    innovation = z - mean[:, :4]
    mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    covariance = covariance - gain @ projected @ gain.transpose(0, 2, 1)
    return mean, covariance
