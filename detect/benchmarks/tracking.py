"""tools/bench_tracking.py: tracking and counting with a real detector on synthetic videos whose
ground truth is exact.

For each seed: the moving-shapes video is written (mp4 + MOTChallenge ground truth + true
counts), run through ``tools/predict.py``'s pipeline with ``track=bytetrack`` and its line and
zone, and scored (MOTA, IDF1, ID switches; line counts per class and direction against the
truth), with the tracking + counting time a frame and its share of end to end. Then each
seed's video read in realtime mode (at its frame rate) by a detector slowed to
``realtime_period_frames`` frame periods per frame, so about every other frame is dropped;
and the first two seeds as two streams through one batched model: the share of frames whose
ids equal the solo run's (the batches differ, so scores may differ in the last bits) and each
stream's own scores and counts (equal to the solo run's). Every run is marked against the
``target`` and the seeds that meet it are counted: all seeds are reported, those that miss
too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from detect.data.categories import CategoryMap
from detect.data.moving_shapes import VideoConfig, write_video
from detect.evaluation.tracking import count_differences, evaluate_tracking, read_mot, read_run
from detect.inference.backends import load_detector
from detect.inference.counting import CountConfig
from detect.inference.outputs import OutputConfig
from detect.inference.sources import open_sources
from detect.inference.stream import StreamConfig, run_stream
from detect.inference.tracking import TrackerConfig
from detect.io import atomic_write
from detect.models.predictor import Detector
from detect.weights.hub import HubConfig


class Throttle:
    """A detector that takes at least ``period`` seconds per call (a slower machine)."""

    def __init__(self, detector: Detector, period: float) -> None:
        self.detector, self.period = detector, period

    def __call__(self, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
        start = time.perf_counter()
        out = self.detector(images)
        left = self.period - (time.perf_counter() - start)
        if left > 0:
            time.sleep(left)
        return out


def run_video(
    detector: Detector,
    categories: CategoryMap,
    videos: Sequence[Path],
    count: CountConfig,
    cfg: DictConfig,
    output_dir: Path,
    mode: str = "every_frame",
) -> Any:
    """One tracked run over ``videos`` (one source each), writing detections.jsonl."""
    config = StreamConfig(
        mode=mode,
        batch_size=cfg.batch_size,
        score_thresh=cfg.score_thresh,
        track="bytetrack",
        tracker=TrackerConfig(**OmegaConf.to_container(cfg.tracker, resolve=True)),
        count=count,
    )
    outputs = OutputConfig(output_dir=output_dir, save_video=cfg.save_video, save_json=True)
    sources = open_sources([str(v) for v in videos])
    return run_stream(detector, categories, sources, config, outputs, progress=False)


def score(files: Any, jsonl: Path, source: str, min_visibility: float) -> dict[str, Any]:
    """MOT metrics and the count comparison of one source of a run."""
    run = read_run(jsonl, source)
    report = evaluate_tracking(read_mot(files.gt, min_visibility), run)
    expected = json.loads(files.counts.read_text())["counts"]
    differences = count_differences(expected, run.counts)
    return {
        "MOTA": report.metrics["MOTA"],
        "IDF1": report.metrics["IDF1"],
        "ID switches": int(report.metrics["ID switches"]),
        "frames scored": report.frames_scored,
        "counts exact": not [d for d in differences if d.startswith("line")],
        "differences": differences,
        "counts": run.counts,
    }


def track_ids(jsonl: Path, source: str) -> list[list[int | None]]:
    """Each record's track ids of ``source``, in order."""
    with jsonl.open() as file:
        records = [json.loads(line) for line in file]
    return [[d["track_id"] for d in r["detections"]] for r in records if r["source"] == source]


def meets(result: dict[str, Any], idf1: float, mota: float | None) -> bool:
    """IDF1 (and MOTA, when given) at least the target, and the line counts exact."""
    return (
        result["counts exact"]
        and result["IDF1"] >= idf1
        and (mota is None or result["MOTA"] >= mota)
    )


def row(name: str, result: dict[str, Any]) -> str:
    cost = ""
    if "track ms per frame" in result:
        cost = f"{result['track ms per frame']:.3f} ms, {result['track share']:.1%}"
    return (
        f"| {name} | {result['MOTA']:.4f} | {result['IDF1']:.4f} | {result['ID switches']} | "
        f"{result['frames scored']} | {'exact' if result['counts exact'] else 'DIFFER'} | "
        f"{cost} | {'yes' if result['meets'] else 'no'} |"
    )


def verdict(results: dict[str, Any], what: str, bar: str) -> str:
    """``what``: how many of the runs meet ``bar``, and which."""
    passed = [str(seed) for seed, r in results.items() if r["meets"]]
    which = f" (seeds {', '.join(passed)})" if passed else ""
    return f"{what}: {len(passed)} of {len(results)} seeds meet {bar}{which}"


def run_bench_tracking(cfg: DictConfig) -> dict[str, Any]:
    """Print the per-seed, realtime and two-stream tables and how many seeds meet the targets;
    write them as json."""
    loaded = load_detector(cfg.ckpt, cfg.backend, cfg.device, cfg.threads, hub=HubConfig(**cfg.hub))
    detector, categories = loaded.detector, loaded.categories
    video = VideoConfig(**OmegaConf.to_container(cfg.video, resolve=True))
    target = cfg.target
    root = Path(cfg.output_dir)
    results: dict[str, Any] = {"seeds": {}, "realtime": {}}
    table = [
        "| run | MOTA | IDF1 | ID switches | frames scored | line counts | tracking + counting "
        "a frame, share of end to end | meets the target |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def add(name: str, result: dict[str, Any]) -> None:
        table.append(row(name, result))
        print(table[-1], flush=True)

    files, counts = {}, {}
    for seed in cfg.seeds:
        files[seed] = write_video(root / f"video_s{seed}", video, seed)
        truth = json.loads(files[seed].counts.read_text())
        counts[seed] = CountConfig.from_plain(truth["lines"], truth["zones"])
        out = root / f"run_s{seed}"
        summary = run_video(detector, categories, [files[seed].video], counts[seed], cfg, out)
        result = score(
            files[seed], out / "detections.jsonl", str(files[seed].video), cfg.min_visibility
        )
        track = summary.stages["track"]
        result["track ms per frame"] = 1000 * track.total / max(track.count, 1)
        result["fps"] = summary.fps
        result["track share"] = result["track ms per frame"] * summary.fps / 1000
        result["meets"] = meets(result, target.idf1, target.mota)
        results["seeds"][seed] = result
        add(f"seed {seed}", result)

    period = cfg.realtime_period_frames / video.fps
    for seed in cfg.seeds if cfg.realtime else ():
        out = root / f"realtime_s{seed}"
        throttled = Throttle(detector, period)
        summary = run_video(
            throttled, categories, [files[seed].video], counts[seed], cfg, out, "realtime"
        )
        result = score(
            files[seed], out / "detections.jsonl", str(files[seed].video), cfg.min_visibility
        )
        stats = summary.sources[0]
        result["dropped"] = stats.dropped / max(stats.read, 1)
        result["meets"] = meets(result, target.realtime_idf1, None)
        results["realtime"][seed] = result
        add(f"seed {seed}, realtime, {result['dropped']:.0%} of frames dropped", result)

    if len(cfg.seeds) > 1:  # the same line and zone on both: each source counts its own
        first, second = cfg.seeds[0], cfg.seeds[1]
        out = root / "two_streams"
        videos = [files[first].video, files[second].video]
        run_video(detector, categories, videos, counts[first], cfg, out)
        both: dict[str, Any] = {}
        for seed, other in ((first, second), (second, first)):
            source = str(files[seed].video)
            result = score(files[seed], out / "detections.jsonl", source, cfg.min_visibility)
            solo = track_ids(root / f"run_s{seed}" / "detections.jsonl", source)
            beside = track_ids(out / "detections.jsonl", source)
            same = sum(a == b for a, b in zip(solo, beside, strict=True)) / max(len(solo), 1)
            result["frames with the ids of the solo run"] = same
            solo_counts = results["seeds"][seed]["counts"]
            result["meets"] = same == 1.0 and result["counts"] == solo_counts
            both[seed] = result
            add(
                f"seed {seed} beside seed {other}, one batch: ids as alone in {same:.1%} of frames",
                result,
            )
        results["two_streams"] = both

    shares = [r["track share"] for r in results["seeds"].values()]
    costs = [r["track ms per frame"] for r in results["seeds"].values()]
    lines = [
        verdict(
            results["seeds"],
            "every frame",
            f"MOTA ≥ {target.mota}, IDF1 ≥ {target.idf1} and exact line counts",
        ),
        verdict(
            results["realtime"], "realtime", f"IDF1 ≥ {target.realtime_idf1} and exact line counts"
        )
        if results["realtime"]
        else "",
        f"tracking + counting: {min(costs):.3f}–{max(costs):.3f} ms a frame, "
        f"{min(shares):.1%}–{max(shares):.1%} of end to end (target under "
        f"{target.track_share:.0%})",
    ]
    print("\n" + "\n".join(table) + "\n\n" + "\n".join(line for line in lines if line))
    atomic_write(root / "bench_tracking.json", json.dumps(results, indent=1, default=str))
    return results
