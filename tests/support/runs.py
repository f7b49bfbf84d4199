"""Reading what a training run wrote."""

from __future__ import annotations

import csv
from pathlib import Path


def validation_rows(run_dir: Path, version: int = 0) -> list[dict[str, str]]:
    """The rows of ``logs/version_<version>/metrics.csv`` that hold a validation."""
    with open(run_dir / "logs" / f"version_{version}" / "metrics.csv") as file:
        return [row for row in csv.DictReader(file) if row.get("val/AP")]
