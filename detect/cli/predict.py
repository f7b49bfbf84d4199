"""tools/predict.py: detection on images, videos, webcams and streams."""

from __future__ import annotations

import cv2
from omegaconf import DictConfig, ListConfig, OmegaConf

from detect.cli.writable import check_writable
from detect.errors import IncompleteRunError
from detect.inference.backends import load_detector
from detect.inference.counting import CountConfig
from detect.inference.outputs import OutputConfig
from detect.inference.sources import Reconnect, open_sources
from detect.inference.stats import StreamSummary
from detect.inference.stream import StreamConfig, run_stream
from detect.inference.tracking import TrackerConfig
from detect.weights.hub import HubConfig


def source_list(source: str | int | ListConfig | list) -> list[str | int]:
    """``source=clip.mp4`` or ``source=[a.mp4,0,rtsp://…]`` as a list."""
    if isinstance(source, (ListConfig, list, tuple)):
        return list(source)
    return [source]


def stream_config(cfg: DictConfig) -> StreamConfig:
    """The stream settings of a predict-style config (mode, sizes, threshold, tracking and
    counting), checked."""
    count = OmegaConf.to_container(cfg.count, resolve=True)
    return StreamConfig(
        mode=cfg.mode,
        batch_size=cfg.batch_size,
        queue_size=cfg.queue_size,
        score_thresh=cfg.score_thresh,
        max_detections=cfg.max_detections,
        max_frames=cfg.max_frames,
        track=cfg.track,
        tracker=TrackerConfig(**OmegaConf.to_container(cfg.tracker, resolve=True)),
        count=CountConfig.from_plain(**count),
    )


def run_detect(cfg: DictConfig) -> StreamSummary:
    """Open the sources (a bad one fails here, by name), run the stream, print the summary;
    a source that failed mid-stream (a live one out of reconnection tries) is an error at the
    end, once every output is closed."""
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # FFmpeg says why instead
    config = stream_config(cfg)  # settings checked before the model loads
    if cfg.save_video or cfg.save_images or cfg.save_json:
        check_writable(cfg.output_dir, "output_dir")
    loaded = load_detector(
        cfg.ckpt,
        cfg.backend,
        cfg.device,
        cfg.threads,
        hub=HubConfig(**cfg.hub),
        cache=cfg.cache,
        cache_dir=cfg.cache_dir,
        openvino=dict(cfg.openvino),
    )
    if cfg.classes is not None:  # ids or names of the model's categories
        config.classes = loaded.categories.ids_of(list(cfg.classes))
    reconnect = Reconnect(**OmegaConf.to_container(cfg.reconnect, resolve=True))
    sources = open_sources(source_list(cfg.source), cfg.loop, reconnect, cfg.timeout_s)
    outputs = OutputConfig(
        output_dir=cfg.output_dir,
        save_video=cfg.save_video,
        save_images=cfg.save_images,
        save_json=cfg.save_json,
        show=cfg.show,
    )
    summary = run_stream(
        loaded.detector, loaded.categories, sources, config, outputs, progress=cfg.progress
    )
    print(summary.format())
    if summary.outputs:
        print("written: " + ", ".join(str(path) for path in summary.outputs))
    incomplete = summary.incomplete
    if incomplete:  # after the outputs are closed: everything that was read is written
        raise IncompleteRunError(
            "; ".join(f"{source.name}: {source.status}" for source in incomplete)
            + " (what was read is written)"
        )
    return summary
