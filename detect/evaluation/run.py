"""Evaluate a training checkpoint on a COCO-format split: the wiring behind tools/eval.py."""

from __future__ import annotations

import math
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from detect.data.coco import CocoDetection, DatasetError
from detect.evaluation.evaluate import check_categories, evaluate
from detect.inference.backends import LoadedDetector, load_detector
from detect.training.checkpoint import Checkpoint


def checkpoint_dataset(
    model: Checkpoint | LoadedDetector, data: DictConfig | None, split: str, source: str
) -> CocoDetection:
    """The ``split`` of ``data`` (default: the set the model was trained on), checked to hold
    the model's categories."""
    data = data or OmegaConf.create(model.run_config.get("data"))
    if not data:
        raise DatasetError(f"{source} records no dataset: choose one with data=<name>")
    if split not in data:
        raise DatasetError(f"the data config has no split {split!r}; choose split=train or val")
    dataset = instantiate(data[split])
    check_categories(dataset, model.categories, f"model {source}")
    return dataset


def run_eval(cfg: DictConfig) -> dict[str, float]:
    """Print pycocotools' summary; write ``detections.json`` and ``metrics.json``."""
    loaded = load_detector(cfg.ckpt, cfg.backend, cfg.device, cfg.threads, cfg.compile)
    dataset = checkpoint_dataset(loaded, cfg.get("data"), cfg.split, cfg.ckpt)
    evaluator = evaluate(loaded.detector, dataset, cfg.batch_size, cfg.num_workers)
    metrics, summary = evaluator.compute()
    print(summary)
    if cfg.per_category:
        table = evaluator.per_category()
        print(format_per_category(table))
        metrics["per_category"] = {
            name: {"AP": finite_or_none(ap), "AP50": finite_or_none(ap50)}
            for name, (ap, ap50) in table.items()
        }
    output_dir = Path(cfg.output_dir or default_output_dir(Path(cfg.ckpt), cfg.split))
    output_dir.mkdir(parents=True, exist_ok=True)
    evaluator.write(output_dir / "detections.json", output_dir / "metrics.json", metrics)
    print(
        f"{len(dataset)} images, {loaded.description}: "
        f"AP {metrics['AP']:.4g}, AP50 {metrics['AP50']:.4g}; written to {output_dir}"
    )
    return metrics


def format_per_category(table: dict[str, tuple[float, float]]) -> str:
    """A markdown table, best AP first (categories absent from the set last)."""
    rows = sorted(table.items(), key=lambda item: (math.isnan(item[1][0]), -item[1][0]))
    lines = ["| category | AP | AP50 |", "|---|---|---|"]
    lines += [f"| {name} | {ap:.3f} | {ap50:.3f} |" for name, (ap, ap50) in rows]
    return "\n".join(lines)


def finite_or_none(value: float) -> float | None:
    """json has no NaN: a category without ground truth gets null."""
    return None if math.isnan(value) else value


def default_output_dir(checkpoint: Path, split: str) -> Path:
    """``<run>/eval/<split>`` for a checkpoint in a run's ``checkpoints/``, else beside it;
    ``…/eval/<name>/<split>`` beside an exported model (fp32 and int8 side by side)."""
    folder = checkpoint.resolve().parent
    if checkpoint.suffix == ".onnx":
        return folder / "eval" / checkpoint.stem / split
    run = folder.parent if folder.name == "checkpoints" else folder
    return run / "eval" / split
