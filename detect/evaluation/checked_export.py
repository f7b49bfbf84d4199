"""A checkpoint exported and judged in one call — what ``detect export`` and ``Model.export``
both run: the files written and checked against PyTorch (:mod:`detect.export.variants`), and an
int8 file's speed and AP beside fp32's (:mod:`detect.evaluation.quantized`).

It lives here, the lowest layer that may import both: the export layer knows neither
checkpoints (:mod:`detect.weights`, its sibling) nor evaluation, which sits above it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from torch import Tensor

from detect.data.images import load_images, read_image, to_chw_tensor
from detect.data.registry import build_dataset
from detect.data.samples import sample_images_dir, sample_paths
from detect.evaluation.quantized import int8_report
from detect.export.onnx import OPSET, metadata_for
from detect.export.variants import ExportPlan, write_variants
from detect.weights.checkpoint import Checkpoint
from detect.weights.sources import is_published, published_name, run_folder

log = logging.getLogger(__name__)


def default_output(spec: str | Path, suffix: str) -> Path:
    """``<run>/export/<checkpoint name><suffix>`` for a run's checkpoint (``spec``), else beside
    it; ``outputs/export/<name><suffix>`` for a published one (``torchvision:<name>``)."""
    if is_published(spec):
        return Path("outputs") / "export" / f"{published_name(spec)}{suffix}"
    return run_folder(spec) / "export" / f"{Path(spec).stem}{suffix}"


def checkpoint_images(
    checkpoint: Checkpoint,
    images_dir: str | Path | None,
    split: str,
    count: int,
    source: str,
    say: Callable[[str], None] = log.info,
) -> list[Tensor]:
    """``count`` images of ``images_dir``; when it is None, the first ``count`` readable images
    of the checkpoint's own ``split`` (the data its run config records), or, for a checkpoint
    that records none (``torchvision:…``), the package's sample photos (at most as many as
    there are; ``say`` is told). ``source`` names the checkpoint in errors."""
    if images_dir is not None:
        return load_images(images_dir, count)
    data = checkpoint.run_config.get("data")
    if not data:
        paths = sample_paths()[:count]
        say(
            f"{source} records no dataset: using the {len(paths)} sample photos shipped with "
            f"detect ({sample_images_dir()}); name a folder of your own images with "
            "check.images_dir=… / calibration.images_dir=…"
        )
        return [to_chw_tensor(read_image(path)) for path in paths]
    dataset = build_dataset(data, split, source=source, stored=True)
    images = []
    for index in range(len(dataset)):
        if len(images) == count:
            break
        sample = dataset[index]
        if sample is not None:
            images.append(to_chw_tensor(sample[0]))
    return images


def export_model(
    checkpoint: Checkpoint,
    plan: ExportPlan,
    output: Path,
    *,
    check_images: Sequence[Tensor] = (),
    calibration: Sequence[Tensor] = (),
    calibration_method: str = "minmax",
    opset: int = OPSET,
    threads: int | None = None,
    say: Callable[[str], None] = log.info,
) -> list[Path]:
    """Write ``plan``'s variants of the checkpoint's detector (fp32 at ``output``, the others
    beside it), each checked against PyTorch on ``check_images`` as it is written; an int8
    file beside fp32 is also timed against it on this machine and, when the checkpoint records
    its data, scored on its val split. ``calibration``: the images ONNX int8 is calibrated on
    (``plan.calibrated``). ``say`` gets each line of the report. Returns the paths written."""
    metadata = metadata_for(
        checkpoint.model,
        checkpoint.categories,
        checkpoint.model_config,
        checkpoint.run_config,
        plan.outputs,
    )
    variants = write_variants(
        checkpoint.model,
        metadata,
        plan,
        output,
        check_images=check_images,
        calibration=calibration,
        method=calibration_method,
        opset=opset,
        threads=threads,
        say=say,
    )
    runtimes = {variant.precision: variant.detector for variant in variants}
    if check_images and {"fp32", "int8"} <= runtimes.keys():
        data = checkpoint.run_config.get("data")
        val_set = build_dataset(data, "val", source="the checkpoint", stored=True) if data else None
        say(int8_report(runtimes["fp32"], runtimes["int8"], check_images, val_set))
    return [variant.path for variant in variants]
