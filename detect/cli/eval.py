"""tools/eval.py: COCO mAP of a checkpoint or an exported model on a COCO-format split."""

from __future__ import annotations

import math
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from detect.cli.writable import check_writable
from detect.evaluation.coco_eval import resolve_backend
from detect.evaluation.evaluate import evaluate, model_dataset
from detect.evaluation.report import ReportConfig, write_report
from detect.inference.backends import load_detector
from detect.weights.hub import HubConfig
from detect.weights.sources import is_published, published_name, run_folder


def run_eval(cfg: DictConfig) -> dict[str, float]:
    """Print pycocotools' summary; write ``detections.json`` and ``metrics.json`` (and, with
    ``analysis=true``, the report under ``report/``)."""
    report = ReportConfig(**cfg.report) if cfg.analysis else None
    resolve_backend(cfg.coco_backend)  # a bad choice stops before the detector runs
    output_dir = Path(cfg.output_dir or default_output_dir(cfg.ckpt, cfg.split))
    check_writable(output_dir, "output_dir" if cfg.output_dir else "output_dir (its default)")
    hub = HubConfig(**cfg.hub)
    loaded = load_detector(
        cfg.ckpt,
        cfg.backend,
        cfg.device,
        cfg.threads,
        cfg.compile,
        hub,
        cache=cfg.cache,
        cache_dir=cfg.cache_dir,
        openvino=dict(cfg.openvino),
    )
    data = OmegaConf.to_container(cfg.data, resolve=True) if cfg.get("data") else None
    dataset = model_dataset(loaded.categories, loaded.run_config, data, cfg.split, cfg.ckpt)
    evaluator = evaluate(
        loaded.detector, dataset, cfg.batch_size, cfg.num_workers, backend=cfg.coco_backend
    )
    metrics, summary = evaluator.compute()
    print(summary)
    if cfg.per_category:
        table = evaluator.per_category()
        print(format_per_category(table))
        metrics["per_category"] = {
            name: {"AP": finite_or_none(ap), "AP50": finite_or_none(ap50)}
            for name, (ap, ap50) in table.items()
        }
    evaluator.write(output_dir / "detections.json", output_dir / "metrics.json", metrics)
    if report is not None:
        title = f"{loaded.description} on {cfg.split} ({len(evaluator.image_ids)} images)"
        page = write_report(evaluator, dataset, metrics, output_dir / "report", report, title)
        print(f"report: {page}")
    skipped = len(dataset.report.skipped_images)
    print(
        f"{len(evaluator.image_ids)} images scored"
        + (f" ({skipped} skipped: see the warnings above)" if skipped else "")
        + f", {loaded.description}: AP {metrics['AP']:.4g}, AP50 {metrics['AP50']:.4g}; "
        f"written to {output_dir}"
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


def default_output_dir(checkpoint: str, split: str) -> Path:
    """``<run>/eval/<split>`` for a checkpoint in a run's ``checkpoints/``, else beside it;
    ``…/eval/<name>/<split>`` beside an exported model (fp32 and int8 side by side);
    ``outputs/eval/<name>/<split>`` for a published one (``torchvision:<name>``)."""
    if is_published(checkpoint):
        return Path("outputs") / "eval" / published_name(checkpoint) / split
    path = Path(checkpoint)
    if path.suffix == ".onnx":
        return path.resolve().parent / "eval" / path.stem / split
    return run_folder(path) / "eval" / split
