"""Detection on images, videos, webcams and streams: the wiring behind tools/predict.py."""

from __future__ import annotations

from pathlib import Path

import cv2
from omegaconf import DictConfig, ListConfig, OmegaConf

from detect.data.coco import CategoryMap
from detect.inference import backends
from detect.inference.backends import BACKENDS
from detect.inference.outputs import OutputConfig
from detect.inference.sources import Reconnect, SourceError, open_sources
from detect.inference.stats import StreamSummary
from detect.inference.stream import Detector, StreamConfig, StreamConfigError, run_stream


def load_detector(
    ckpt: str | Path, backend: str = "pytorch", device: str = "cpu", threads: int | None = None
) -> tuple[Detector, CategoryMap]:
    """The model's detector on ``backend`` (pytorch or onnxruntime; a ``.ckpt`` or an exported
    ``.onnx``) and its categories. ``threads``: intra-op threads (None: the backend's default)."""
    if backend not in BACKENDS:
        raise StreamConfigError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    loaded = backends.load_detector(ckpt, backend, device, threads)
    return loaded.detector, loaded.categories


def source_list(source: str | int | ListConfig | list) -> list[str | int]:
    """``source=clip.mp4`` or ``source=[a.mp4,0,rtsp://…]`` as a list."""
    if isinstance(source, (ListConfig, list, tuple)):
        return list(source)
    return [source]


def run_detect(cfg: DictConfig) -> StreamSummary:
    """Open the sources (a bad one fails here, by name), run the stream, print the summary;
    a source that failed mid-stream (a live one out of reconnection tries) is an error at the
    end, once every output is closed."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # FFmpeg says why instead
    detector, categories = load_detector(cfg.ckpt, cfg.backend, cfg.device, cfg.threads)
    reconnect = Reconnect(**OmegaConf.to_container(cfg.reconnect, resolve=True))
    sources = open_sources(source_list(cfg.source), cfg.loop, reconnect, cfg.timeout_s)
    config = StreamConfig(
        mode=cfg.mode,
        batch_size=cfg.batch_size,
        queue_size=cfg.queue_size,
        score_thresh=cfg.score_thresh,
        max_frames=cfg.max_frames,
    )
    outputs = OutputConfig(
        output_dir=cfg.output_dir,
        save_video=cfg.save_video,
        save_images=cfg.save_images,
        save_json=cfg.save_json,
        show=cfg.show,
    )
    summary = run_stream(detector, categories, sources, config, outputs, progress=cfg.progress)
    print(summary.format())
    if summary.outputs:
        print("written: " + ", ".join(str(path) for path in summary.outputs))
    failed = [source for source in sources if source.error]
    if failed:  # after the outputs are closed: the other sources' results are all written
        raise SourceError(failed[0].name, failed[0].error)
    return summary
