"""Scan a COCO-format dataset and report what it holds: python tools/check_dataset.py --help."""

from pathlib import Path

import hydra
from omegaconf import DictConfig


@hydra.main(config_path="../conf", config_name="check_dataset", version_base="1.3")
def main(cfg: DictConfig) -> None:
    report_dir = Path(cfg.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    for split in cfg.splits:
        report = hydra.utils.instantiate(cfg.data[split], verify_images=cfg.decode).report
        print(report.summary())
        print(
            "boxes per category: "
            + ", ".join(
                f"{name} {count}" for name, count in report.boxes_per_category.most_common()
            )
        )
        report.to_json(report_dir / f"{split}.json")
        print(f"report written to {report_dir / f'{split}.json'}\n")


if __name__ == "__main__":
    main()
