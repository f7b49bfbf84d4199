"""tools/check_dataset.py: what a dataset holds, and what training would skip or drop, and why."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from detect.data.coco import DataReport
from detect.data.registry import build_dataset


def run_check_dataset(cfg: DictConfig) -> list[DataReport]:
    """Scan each split (decoding every image when ``decode``), print its report once and write
    it as json under ``report_dir``."""
    data = OmegaConf.to_container(cfg.data, resolve=True)
    report_dir = Path(cfg.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    reports = []
    for split in cfg.splits:
        report = build_dataset(data, split, verify_images=cfg.decode, log_report=False).report
        print(report.summary())
        counts = report.boxes_per_category.most_common()
        print("boxes per category: " + ", ".join(f"{name} {count}" for name, count in counts))
        report.to_json(report_dir / f"{split}.json")
        print(f"report written to {report_dir / f'{split}.json'}\n")
        reports.append(report)
    return reports
