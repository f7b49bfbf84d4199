"""Run a predictor over a COCO-format dataset and score it with pycocotools."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor
from torch.utils.data import DataLoader
from tqdm import tqdm

from detect.data.coco import CategoryMap, CocoDetection, DatasetError
from detect.data.datamodule import collate, init_worker
from detect.evaluation.coco_eval import CocoEvaluator

Detector = Callable[[Sequence[Tensor]], list[dict[str, Tensor]]]


def check_categories(dataset: CocoDetection, trained: CategoryMap, source: str) -> None:
    """The dataset must use the categories (ids and names) the model was trained on."""
    if dataset.categories != trained:
        raise DatasetError(
            f"the dataset's categories do not match the model's ({source}): dataset has "
            f"{len(dataset.categories.names)} ({', '.join(dataset.categories.names[:5])}…), model "
            f"was trained on {len(trained.names)} ({', '.join(trained.names[:5])}…); evaluate on "
            "a set annotated with the same category list"
        )


def evaluate(
    detector: Detector,
    dataset: CocoDetection,
    batch_size: int = 16,
    num_workers: int = 1,
    progress: bool = True,
) -> CocoEvaluator:
    """Detections for every image of ``dataset`` (untransformed), collected in an evaluator."""
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        num_workers=num_workers,
        collate_fn=collate,
        worker_init_fn=init_worker,
        persistent_workers=False,
    )
    evaluator = CocoEvaluator(dataset.coco, dataset.categories)
    for images, targets in tqdm(loader, desc="evaluating", unit="batch", disable=not progress):
        evaluator.update([t["image_id"] for t in targets], detector(images))
    return evaluator
