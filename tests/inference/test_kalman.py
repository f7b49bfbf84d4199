"""The per-coordinate Kalman filter equals the textbook 8 × 8 matrix filter of SORT/ByteTrack
(x ← F x, P ← F P Fᵀ + Q; K = P Hᵀ S⁻¹) step for step, including frame gaps; and boxes round
trip through the (cx, cy, a, h) measurement."""

from __future__ import annotations

import numpy as np

from detect.inference import kalman


def matrix_noise(h: float, position: float, velocity: float, aspect: float, aspect_v: float):
    """The 8 × 8 diagonal covariance with σ = (p h, p h, a, p h, v h, v h, av, v h)."""
    std = np.array([position * h] * 2 + [aspect, position * h])
    std_v = np.array([velocity * h] * 2 + [aspect_v, velocity * h])
    return np.diag(np.concatenate([std, std_v]) ** 2)


def to_matrix(covariance: np.ndarray) -> np.ndarray:
    """(3, 4) pp, pv, vv → the 8 × 8 covariance they stand for."""
    full = np.zeros((8, 8))
    i = np.arange(4)
    full[i, i], full[i, i + 4] = covariance[kalman.PP], covariance[kalman.PV]
    full[i + 4, i], full[i + 4, i + 4] = covariance[kalman.PV], covariance[kalman.VV]
    return full


def textbook_predict(mean: np.ndarray, cov: np.ndarray, dt: float):
    transition = np.eye(8)
    transition[range(4), range(4, 8)] = dt
    q = dt * matrix_noise(
        mean[3],
        kalman.POSITION_STD,
        kalman.VELOCITY_STD,
        kalman.ASPECT_STD,
        kalman.ASPECT_VELOCITY_STD,
    )
    return transition @ mean, transition @ cov @ transition.T + q


def textbook_update(mean: np.ndarray, cov: np.ndarray, z: np.ndarray):
    measure = np.eye(4, 8)
    r = matrix_noise(mean[3], kalman.POSITION_STD, 0, kalman.ASPECT_MEASURE_STD, 0)[:4, :4]
    s = measure @ cov @ measure.T + r
    gain = cov @ measure.T @ np.linalg.inv(s)
    return mean + gain @ (z - measure @ mean), cov - gain @ s @ gain.T


def test_the_filter_equals_the_matrix_form_over_a_noisy_track_with_gaps():
    rng = np.random.default_rng(0)
    truth = np.array([40.0, 30.0, 0.8, 50.0])
    velocity = np.array([2.5, -1.0, 0.0, 0.3])
    measured = kalman.xyxy_to_xyah(np.array([[20.0, 5.0, 60.0, 55.0]]))
    mean, cov = kalman.initiate(measured)
    reference_mean = mean[0].copy()
    reference_cov = to_matrix(cov[0])
    for step, dt in enumerate([1, 1, 2, 1, 5, 1, 1, 3] * 3):
        truth = truth + dt * velocity
        mean, cov = kalman.predict(mean, cov, float(dt))
        reference_mean, reference_cov = textbook_predict(reference_mean, reference_cov, dt)
        np.testing.assert_allclose(mean[0], reference_mean, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(to_matrix(cov[0]), reference_cov, rtol=1e-9, atol=1e-9)
        if step % 4 == 3:
            continue  # a missed detection: prediction only
        z = truth + rng.normal(0, [1.0, 1.0, 0.02, 1.0])
        mean, cov = kalman.update(mean, cov, z[None, :])
        reference_mean, reference_cov = textbook_update(reference_mean, reference_cov, z)
        np.testing.assert_allclose(mean[0], reference_mean, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(to_matrix(cov[0]), reference_cov, rtol=1e-9, atol=1e-9)
    # the filter has learnt the motion: its velocity estimate is close to the truth
    np.testing.assert_allclose(mean[0, 4:6], velocity[:2], atol=0.3)


def test_many_tracks_at_once_equal_each_alone():
    boxes = np.array([[0, 0, 10, 20], [5, 5, 45, 25], [100, 50, 130, 110]], float)
    mean, cov = kalman.predict(*kalman.initiate(kalman.xyxy_to_xyah(boxes)), 2.0)
    z = kalman.xyxy_to_xyah(boxes + 3.0)
    both = kalman.update(mean, cov, z)
    for i in range(3):
        alone = kalman.update(mean[i : i + 1], cov[i : i + 1], z[i : i + 1])
        np.testing.assert_array_equal(both[0][i], alone[0][0])
        np.testing.assert_array_equal(both[1][i], alone[1][0])


def test_boxes_round_trip_through_the_measurement():
    boxes = np.array([[10.0, 20.0, 50.0, 100.0], [0.5, 0.25, 3.5, 1.25]])
    z = kalman.xyxy_to_xyah(boxes)
    np.testing.assert_allclose(z, [[30, 60, 0.5, 80], [2, 0.75, 3, 1]])
    np.testing.assert_allclose(kalman.xyah_to_xyxy(z), boxes)
