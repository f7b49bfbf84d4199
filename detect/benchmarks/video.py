"""tools/bench_video.py: does decoding and writing overlap with inference, and does memory stay
flat over a long stream?

1. Soak (first, so nothing else has inflated the process): ``soak_frames`` frames of the clip,
   looped, through the whole every_frame pipeline (mp4 + JSON lines written), resident memory
   sampled every ``sample_s``; reports RSS after warm-up, early and late in the run, the
   process peak (VmHWM), and checks the peak against the bound: RSS after warm-up + twice the
   bytes of every frame the buffers can hold + ``slack_mib``.
2. Throughput: the clip's first ``frames`` frames decoded once into memory; model-only FPS over
   them (same batch size, no decode, no writing), then the every_frame pipeline on the same
   frames of the clip (decode + infer + draw + mp4 + JSON lines, overlapped); best of
   ``repeats`` each, interleaved; the ratio pipeline ÷ model-only.

With ``track=bytetrack`` (and ``count.lines`` / ``count.zones``) both runs track and count: the
soak also reports the ids given and the most tracks alive at once, and the pipeline run the
tracking + counting time per frame against detection and end-to-end time in that run.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import torch
from omegaconf import DictConfig, OmegaConf

from detect.data.categories import CategoryMap
from detect.inference.backends import load_detector
from detect.inference.counting import CountConfig
from detect.inference.outputs import OutputConfig
from detect.inference.sources import open_sources, to_rgb_chw
from detect.inference.stats import StreamSummary
from detect.inference.stream import StreamConfig, run_stream
from detect.inference.tracking import TrackerConfig
from detect.models.predictor import Detector
from detect.weights.hub import HubConfig

MIB = 2**20


def proc_status(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


class RssSampler:
    """Samples VmRSS every ``period`` s in a thread, between ``with`` entry and exit."""

    def __init__(self, period: float) -> None:
        self.period, self.samples = period, []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.done.wait(self.period):
            self.samples.append(proc_status("VmRSS"))

    def __enter__(self) -> RssSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def decode(clip: str, frames: int) -> tuple[list[torch.Tensor], float]:
    """The clip's first ``frames`` frames as (3, H, W) RGB tensors, and decode FPS."""
    capture = cv2.VideoCapture(clip)
    images = []
    start = time.perf_counter()
    while len(images) < frames:
        ok, bgr = capture.read()
        if not ok:
            break
        images.append(torch.from_numpy(to_rgb_chw(bgr)))
    elapsed = time.perf_counter() - start
    capture.release()
    return images, len(images) / elapsed


def model_fps(detector: Detector, images: list[torch.Tensor], batch_size: int) -> float:
    """Frames per second of the detector alone over ``images`` in batches (warm)."""
    detector(images[:batch_size])
    start = time.perf_counter()
    for first in range(0, len(images), batch_size):
        detector(images[first : first + batch_size])
    return len(images) / (time.perf_counter() - start)


def pipeline(
    detector: Detector,
    categories: CategoryMap,
    clip: str,
    frames: int,
    config: StreamConfig,
    output_dir: Path,
    loop: bool = False,
):
    """One every_frame run of ``frames`` frames of the clip, writing mp4 + JSON lines."""
    sources = open_sources(clip, loop=loop)
    run_config = StreamConfig(
        mode="every_frame",
        batch_size=config.batch_size,
        queue_size=config.queue_size,
        score_thresh=config.score_thresh,
        max_frames=frames,
        track=config.track,
        tracker=config.tracker,
        count=config.count,
    )
    outputs = OutputConfig(output_dir=output_dir, save_video=True, save_json=True)
    return run_stream(detector, categories, sources, run_config, outputs, progress=False)


@dataclass
class Soak:
    frames: int
    fps: float
    rss_start: int
    rss_early: int
    rss_late: int
    peak: int
    bound: int
    peak_tracks: int = 0
    track_ids: int = 0

    def format(self) -> str:
        rows = [
            ("RSS after warm-up", self.rss_start),
            ("RSS, max over the first 10 % of the run", self.rss_early),
            ("RSS, max over the last 10 % of the run", self.rss_late),
            ("peak RSS of the process (VmHWM)", self.peak),
            ("bound", self.bound),
        ]
        lines = [f"| soak: {self.frames} frames, {self.fps:.1f} FPS | MiB |", "|---|---|"]
        lines += [f"| {name} | {value / MIB:.1f} |" for name, value in rows]
        verdict = "within" if self.peak <= self.bound else "ABOVE"
        lines.append(f"\npeak {self.peak / MIB:.1f} MiB: {verdict} the bound")
        if self.track_ids:
            lines.append(
                f"tracking: {self.track_ids} track ids given, at most {self.peak_tracks} tracks "
                "alive at once"
            )
        return "\n".join(lines)


def frame_bytes(clip: str) -> int:
    capture = cv2.VideoCapture(clip)
    width, height = capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)
    capture.release()
    return int(width * height * 3)


def soak(
    detector: Detector,
    categories: CategoryMap,
    cfg: DictConfig,
    config: StreamConfig,
    output_dir: Path,
) -> Soak:
    """The looped long run, with resident memory sampled throughout."""
    pipeline(detector, categories, cfg.clip, 2 * config.batch_size, config, output_dir)  # warm
    rss_start = proc_status("VmRSS")
    # every frame the pipeline can hold: buffer + reader's hand, a batch, writer queue + hand;
    # each as BGR + RGB copies
    in_flight = config.queue_size + 1 + config.batch_size + config.queue_size + 1
    bound = rss_start + 2 * in_flight * frame_bytes(cfg.clip) + cfg.slack_mib * MIB
    with RssSampler(cfg.sample_s) as sampler:
        summary = pipeline(
            detector, categories, cfg.clip, cfg.soak_frames, config, output_dir, loop=True
        )
    samples = sampler.samples or [rss_start]
    tenth = max(1, len(samples) // 10)
    return Soak(
        summary.processed,
        summary.fps,
        rss_start,
        max(samples[:tenth]),
        max(samples[-tenth:]),
        proc_status("VmHWM"),
        bound,
        summary.sources[0].peak_tracks,
        summary.sources[0].track_ids,
    )


def run_bench_video(cfg: DictConfig) -> dict[str, float]:
    """Print the soak table (when ``soak_frames``) and the throughput table."""
    loaded = load_detector(cfg.ckpt, cfg.backend, cfg.device, cfg.threads, hub=HubConfig(**cfg.hub))
    detector, categories = loaded.detector, loaded.categories
    config = StreamConfig(
        batch_size=cfg.batch_size,
        queue_size=cfg.queue_size,
        score_thresh=cfg.score_thresh,
        track=cfg.track,
        tracker=TrackerConfig(**OmegaConf.to_container(cfg.tracker, resolve=True)),
        count=CountConfig.from_plain(**OmegaConf.to_container(cfg.count, resolve=True)),
    )
    figures: dict[str, float] = {}
    print(f"checkpoint {cfg.ckpt}, clip {cfg.clip}, {torch.get_num_threads()} torch threads")
    with tempfile.TemporaryDirectory() as scratch:
        if cfg.soak_frames:
            result = soak(detector, categories, cfg, config, Path(scratch))
            print(result.format() + "\n")
            figures.update(peak_mib=result.peak / MIB, bound_mib=result.bound / MIB)
        images, decode_fps = decode(cfg.clip, cfg.frames)
        model, full = 0.0, None
        for _ in range(cfg.repeats):
            model = max(model, model_fps(detector, images, cfg.batch_size))
            run = pipeline(detector, categories, cfg.clip, len(images), config, Path(scratch))
            full = run if full is None or run.fps > full.fps else full
    ratio = full.fps / model
    print(
        f"| {len(images)} frames of {Path(cfg.clip).name}, batch {cfg.batch_size} | FPS |\n"
        "|---|---|\n"
        f"| decode only (OpenCV) | {decode_fps:.1f} |\n"
        f"| model only (frames in memory) | {model:.1f} |\n"
        f"| every_frame pipeline (decode + infer + draw + mp4 + JSON lines) | {full.fps:.1f} |\n"
        f"| ratio pipeline ÷ model only | {ratio:.3f} |"
    )
    print("\npipeline run, per stage:\n" + full.format())
    figures.update(decode_fps=decode_fps, model_fps=model, pipeline_fps=full.fps, ratio=ratio)
    if "track" in full.stages:
        figures.update(tracking_overhead(full))
    return figures


def tracking_overhead(summary: StreamSummary) -> dict[str, float]:
    """Tracking + counting time per frame against detection time and end-to-end time per
    frame, in the same run (printed)."""
    frames = max(summary.processed, 1)
    track = summary.stages["track"].total / frames
    infer = summary.stages["infer"].total / frames
    end_to_end = summary.wall_s / frames
    print(
        f"\ntracking + counting: {1000 * track:.3f} ms per frame; detection "
        f"{1000 * infer:.2f} ms per frame; end to end {1000 * end_to_end:.2f} ms per frame: "
        f"{track / infer:.2%} of detection, {track / end_to_end:.2%} of end to end"
    )
    return {
        "track_ms": 1000 * track,
        "infer_ms": 1000 * infer,
        "end_to_end_ms": 1000 * end_to_end,
        "track_share": track / end_to_end,
    }
