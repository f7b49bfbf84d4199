"""The one object for Python users: ``Model`` loads any weights file and predicts, tracks,
validates, exports and trains, through the same library functions as the ``detect`` command::

    from detect import Model

    model = Model("runs/final/checkpoints/last.ckpt")  # or .onnx, .tflite, torchvision:<name>
    for detections in model.predict("street.mp4", stream=True):
        print(detections.summary())
    model.export(format="onnx")
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from detect.cli.commands import COMMANDS
from detect.cli.compose import compose_command
from detect.data.categories import CategoryMap
from detect.errors import ConfigError
from detect.evaluation.evaluate import evaluate, model_dataset
from detect.export.openvino_runtime import SETTINGS as OPENVINO_SETTINGS
from detect.inference.backends import EXPORTED, LoadedDetector, load_detector
from detect.inference.counting import CountConfig
from detect.inference.detections import DEFAULT_SCORE_THRESH, Detections
from detect.inference.outputs import Result
from detect.inference.sources import is_live, open_sources, to_rgb_chw
from detect.inference.stream import DetectionStream, StreamConfig
from detect.inference.tracking import TrackerConfig
from detect.weights.hub import HubConfig

Source = str | Path | int | np.ndarray | Sequence[str | Path | int | np.ndarray]
MAX_ARRAY_PIXELS = 100_000_000  # an array image's pixels (a 20000² one asks 3.2 GB of copies)


@dataclass(frozen=True)
class TrainResult:
    """Where a training run wrote: its directory, best and last checkpoints, last metrics."""

    run_dir: Path
    best: Path | None
    last: Path | None
    metrics: dict[str, float]


class _either:
    """A method callable on the class (``Model.train(...)``: a new model) or on an instance
    (``model.train(...)``: fine-tune from its weights); ``owner`` gets the class or instance."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        functools.update_wrapper(self, function)

    def __get__(self, instance: Model | None, owner: type[Model]) -> Callable[..., Any]:
        return functools.partial(self.function, instance if instance is not None else owner)


class Model:
    """A detector from ``weights``: a training checkpoint (``.ckpt``), an export (``.onnx``,
    ``.tflite``) or ``torchvision:ssdlite320_mobilenet_v3_large``. ``backend``: auto (ONNX
    Runtime on the CPU, its checked export cached by content), pytorch, onnxruntime, litert."""

    def __init__(
        self,
        weights: str | Path,
        backend: str = "auto",
        device: str = "cpu",
        threads: int | None = None,
        **load_options: Any,
    ) -> None:
        check_model_arguments(weights, threads, load_options)
        self.weights = str(weights)
        self.loaded: LoadedDetector = load_detector(
            self.weights, backend, device, threads, hub=HubConfig(), **load_options
        )

    def __repr__(self) -> str:
        return f"Model({self.loaded.description})"

    @property
    def backend(self) -> str:
        return self.loaded.backend

    @property
    def categories(self) -> CategoryMap:
        return self.loaded.categories

    @property
    def names(self) -> dict[int, str]:
        """Category id → name."""
        return self.loaded.categories.by_id

    def __call__(self, source: Source, **options: Any) -> list[Detections] | Iterator[Detections]:
        return self.predict(source, **options)

    def predict(
        self,
        source: Source,
        *,
        stream: bool = False,
        score_thresh: float = DEFAULT_SCORE_THRESH,
        classes: Sequence[int | str] | None = None,
        max_detections: int | None = None,
        batch_size: int = 4,
        max_frames: int | None = None,
    ) -> list[Detections] | Iterator[Detections]:
        """Detections per image or frame, in the source's pixels. ``source``: an image path, a
        folder or glob, a video file, URL or webcam index, a BGR ``np.ndarray`` (as OpenCV
        reads it) or a list of any of these. ``stream=True`` yields them one by one (a video
        never piles up in memory); else a list. ``classes``: category ids or names to keep."""
        config = StreamConfig(
            batch_size=batch_size,
            score_thresh=score_thresh,
            classes=self.class_ids(classes),
            max_detections=max_detections,
            max_frames=max_frames,
        )
        if not stream and max_frames is None:
            check_finite(source)
        found = self._detections(source, config)
        return found if stream else list(found)

    def track(
        self,
        source: str | Path | int | Sequence[str | Path | int],
        *,
        stream: bool = False,
        score_thresh: float = DEFAULT_SCORE_THRESH,
        classes: Sequence[int | str] | None = None,
        tracker: TrackerConfig | dict[str, Any] | None = None,
        lines: Sequence[Any] = (),
        zones: Sequence[Any] = (),
        max_frames: int | None = None,
    ) -> list[Result] | Iterator[Result]:
        """ByteTrack over a video, stream or webcam (one tracker per source): per frame a
        :class:`~detect.inference.outputs.Result` (frame, detections with ``track_ids``,
        counts), whose ``record()`` is ``detect predict track=bytetrack``'s JSON line.
        ``lines`` / ``zones``: as ``count.lines`` / ``count.zones`` of ``detect predict``."""
        if isinstance(tracker, dict):
            tracker = TrackerConfig(**tracker)
        config = StreamConfig(
            score_thresh=score_thresh,
            classes=self.class_ids(classes),
            max_frames=max_frames,
            track="bytetrack",
            tracker=tracker or TrackerConfig(),
            count=CountConfig.from_plain(lines=list(lines), zones=list(zones)),
        )
        if not stream and max_frames is None:
            check_finite(source)
        results = self._results(self._specs(source), config)
        return results if stream else list(results)

    def val(
        self,
        data: str | dict[str, Any] | None = None,
        split: str = "val",
        batch_size: int = 8,
        coco_backend: str = "auto",
        progress: bool = True,
    ) -> dict[str, float]:
        """COCO metrics (AP, AP50, AP75, APs/m/l, AR1/10/100) on ``split`` of ``data``: a data
        config's name (``coco_subset``, as ``data=`` of ``detect eval``), a data config as a
        dict, or None for the set the model was trained on."""
        if isinstance(data, str):
            data = dict(compose_command("eval", [f"data={data}"]).data)
        dataset = model_dataset(self.categories, self.loaded.run_config, data, split, self.weights)
        evaluator = evaluate(
            self.loaded.detector, dataset, batch_size, progress=progress, backend=coco_backend
        )
        return evaluator.compute()[0]

    def class_ids(self, classes: Sequence[int | str] | None) -> tuple[int, ...] | None:
        """Category ids from ids or names; an unknown one is refused by name."""
        return None if classes is None else self.categories.ids_of(classes)

    def _detections(self, source: Source, config: StreamConfig) -> Iterator[Detections]:
        items = as_list(source)
        arrays = [item for item in items if isinstance(item, np.ndarray)]
        if arrays and len(arrays) < len(items):
            raise ConfigError("predict: give images as arrays or as paths, not both in one list")
        if arrays:
            return self._on_arrays(arrays, config)
        return (result.detections for result in self._results(self._specs(items), config))

    def _on_arrays(self, images: list[np.ndarray], config: StreamConfig) -> Iterator[Detections]:
        """BGR arrays in batches through the same selection as the stream."""
        for start in range(0, len(images), config.batch_size):
            batch = images[start : start + config.batch_size]
            tensors = [torch.from_numpy(to_rgb_chw(check_image(image))) for image in batch]
            for found in self.loaded.detector(tensors):
                yield Detections.from_output(
                    found,
                    self.categories,
                    config.score_thresh,
                    config.classes,
                    config.max_detections,
                )

    def _results(self, specs: list[str | int], config: StreamConfig) -> Iterator[Result]:
        sources = open_sources(specs)
        with DetectionStream(self.loaded.detector, sources, config, self.categories) as stream:
            yield from stream

    @staticmethod
    def _specs(source: Any) -> list[str | int]:
        return [item if isinstance(item, int) else str(item) for item in as_list(source)]

    @_either
    def train(owner: type[Model] | Model, *overrides: str, **options: Any) -> TrainResult:
        """Train as ``detect train`` does, with its overrides: ``"key=value"`` strings or
        keyword options (``data="coco_subset"``, ``**{"trainer.max_epochs": 3}``). On an
        instance, fine-tunes from its weights (``init_from``). Returns where it wrote."""
        from detect.cli.train import build
        from detect.training.resume import LAST
        from detect.training.run import fit

        if isinstance(owner, Model):
            options = {"init_from": owner.weights, **options}
        run = build(compose_command(COMMANDS["train"].config, overrides, options))
        metrics = fit(run)
        best = run.trainer.checkpoint_callback
        last = run.run_dir / "checkpoints" / LAST
        return TrainResult(
            run.run_dir,
            Path(best.best_model_path) if best and best.best_model_path else None,
            last if last.is_file() else None,
            metrics,
        )

    def export(self, format: str = "onnx", **options: Any) -> Path:
        """Write this model as ``format`` (``detect export``'s formats) and check it against
        PyTorch; ``options`` as ``detect export``'s keys. Returns the written file."""
        from detect.cli.export import export_paths

        suffix = "".join(Path(self.weights).suffixes[-2:])
        if Path(self.weights).suffix in EXPORTED or suffix == ".ncnn.param":
            raise ConfigError(
                f"{self.weights} is already an export; export from the checkpoint (.ckpt) it "
                "was made from"
            )
        config = compose_command("export", [], {"ckpt": self.weights, "format": format, **options})
        return export_paths(config)[0]

    def serve(self, host: str = "127.0.0.1", port: int = 8000, **settings: Any) -> None:
        """Serve this model over HTTP as ``detect serve`` does (the ``serve`` extra), until
        SIGTERM or Ctrl-C: ``settings`` as its ``serve.*`` keys (``max_batch``, ``api_key``,
        ``stream_dirs``, ``workers``: each worker loads ``weights`` again)."""
        from detect.serve import ServeConfig, require_extra

        require_extra()
        from detect.serve.run import serve

        config = ServeConfig.from_plain({**settings, "host": host, "port": port})
        serve(config, loaded=self.loaded, load={"path": self.weights, "backend": self.backend})


def as_list(source: Any) -> list[Any]:
    """A source or a list of them, as a list."""
    return list(source) if isinstance(source, (list, tuple)) else [source]


def check_finite(source: Any) -> None:
    """A list of every frame of a webcam or URL would never be returned: refused."""
    for item in as_list(source):
        if isinstance(item, (str, int)) and is_live(item):
            raise ConfigError(
                f"{item!r} is a live source and never ends: pass stream=True to get its frames "
                "one by one, or max_frames=N"
            )


def check_image(image: np.ndarray) -> np.ndarray:
    """A BGR uint8 (H, W, 3) image of 1 to ``MAX_ARRAY_PIXELS`` pixels, or one clear error."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ConfigError(
            f"predict: an array image must be uint8 (H, W, 3) BGR as OpenCV reads it, got "
            f"{image.dtype} {tuple(image.shape)}"
        )
    pixels = image.shape[0] * image.shape[1]
    if not 1 <= pixels <= MAX_ARRAY_PIXELS:
        raise ConfigError(
            f"predict: an array image of {image.shape[1]}×{image.shape[0]} pixels; give one of "
            f"1 to {MAX_ARRAY_PIXELS:,} pixels (resize a larger one first)"
        )
    return image


def check_model_arguments(weights: Any, threads: Any, load_options: dict[str, Any]) -> None:
    """``Model``'s arguments, each refused by what is wrong with it (not by the file it
    cannot then find)."""
    if weights is None or not isinstance(weights, (str, Path)):
        raise ConfigError(
            f"Model(weights): a checkpoint (.ckpt), an export (.onnx, .tflite, .xml) or "
            f"torchvision:<name>, not {type(weights).__name__} {weights!r}"[:200]
        )
    if Path(weights).is_dir():
        raise ConfigError(
            f"Model({str(weights)!r}) is a folder; give a weights file in it (.ckpt, .onnx, …)"
        )
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise ConfigError(f"threads={threads!r}: a whole number of threads, or None")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads={threads}: at least 1 (None: one per core)")
    options = set(inspect.signature(load_detector).parameters) - {"path", "backend", "device"}
    options -= {"threads", "hub"}
    unknown = sorted(set(load_options) - options)
    if unknown:
        raise ConfigError(
            f"Model(…, {unknown[0]}=…): not an option; choose {', '.join(sorted(options))}"
        )
    settings = load_options.get("openvino") or {}
    if not isinstance(settings, dict) or set(settings) - set(OPENVINO_SETTINGS):
        raise ConfigError(f"openvino={settings!r}: its settings are {', '.join(OPENVINO_SETTINGS)}")
