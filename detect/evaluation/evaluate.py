"""Run a detector over a COCO-format dataset and score it with COCOeval."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch.utils.data import DataLoader
from tqdm import tqdm

from detect.data.batching import collate, single_threaded
from detect.data.categories import CategoryMap
from detect.data.coco import CocoDetection, empty_split
from detect.data.registry import build_dataset
from detect.errors import DatasetError
from detect.evaluation.coco_eval import CocoEvaluator
from detect.models.predictor import Detector


def check_categories(dataset: CocoDetection, trained: CategoryMap, source: str) -> None:
    """The dataset must use the categories (ids and names) the model was trained on."""
    if dataset.categories != trained:
        raise DatasetError(
            f"the dataset's categories do not match the model's ({source}): dataset has "
            f"{len(dataset.categories.names)} ({', '.join(dataset.categories.names[:5])}…), model "
            f"was trained on {len(trained.names)} ({', '.join(trained.names[:5])}…); evaluate on "
            "a set annotated with the same category list"
        )


def model_dataset(
    categories: CategoryMap,
    run_config: Mapping[str, Any],
    data: Mapping[str, Any] | None,
    split: str,
    source: str,
) -> CocoDetection:
    """The ``split`` of ``data`` (None: the set the model records it was trained on, rebuilt
    from plain fields — see :mod:`detect.data.registry`), checked to hold its categories."""
    if data is None:
        stored = run_config.get("data")
        if not stored:
            raise DatasetError(f"{source} records no dataset: choose one with data=<name>")
        dataset = build_dataset(stored, split, source=source, stored=True)
    else:
        dataset = build_dataset(data, split)
    check_categories(dataset, categories, f"model {source}")
    if len(dataset) == 0:  # nothing to score: say so before the model runs
        raise DatasetError(empty_split(split, dataset))
    return dataset


def evaluate(
    detector: Detector,
    dataset: CocoDetection,
    batch_size: int = 16,
    num_workers: int = 1,
    progress: bool = True,
    backend: str = "auto",
) -> CocoEvaluator:
    """Detections for every image of ``dataset`` (untransformed), collected in an evaluator
    that scores them with ``backend`` (see :class:`CocoEvaluator`)."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate,
        worker_init_fn=single_threaded,
        persistent_workers=False,
    )
    evaluator = CocoEvaluator(dataset.coco, dataset.categories, backend)
    for images, targets in tqdm(loader, desc="evaluating", unit="batch", disable=not progress):
        evaluator.update([t["image_id"] for t in targets], detector(images))
    return evaluator
