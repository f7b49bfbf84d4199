"""torchvision's SSDLite320 trained briefly on real COCO images: a trained-like score distribution
for latency comparisons when no pretrained weights can be downloaded.

An untrained SSDLite (N(0, 0.03) init) gives constant logits, so every score is 1/91 and ~27,000
candidates per image reach NMS — nothing like a trained detector, where most anchors are
confidently background and a few objects stand out. A few hundred steps of torchvision's own
training loss on COCO images teach the background prior and the class frequencies, which is what
shapes the number of candidates that pass the 0.001 score threshold. The weights are cached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from detect.data.batching import collate
from detect.data.coco import CocoDetection

log = logging.getLogger(__name__)
TRAINED_LIKE = "trained_like"


@dataclass(frozen=True)
class TrainedLike:
    """Where the brief training reads its COCO images (conf/bench.yaml: the shared COCO subset
    under ``paths.data``) and caches its weights."""

    images_dir: str | Path
    annotations: str | Path
    steps: int = 300
    cache_dir: str | Path = "outputs/trained_like"

    def dataset(self) -> CocoDetection:
        return CocoDetection(self.images_dir, self.annotations)

    def cache(self, seed: int) -> Path:
        return Path(self.cache_dir) / f"ssdlite320_v3_large_seed{seed}_{self.steps}steps.pt"

    def label(self, seed: int) -> str:
        return f"trained-like (seed {seed}, {self.steps} steps on {Path(self.images_dir).name})"


def _to_torchvision_targets(
    dataset: CocoDetection, images: list[Tensor], targets: list[dict[str, Tensor]]
) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """uint8 images → float [0, 1]; contiguous labels → COCO's 91-id scheme (torchvision's)."""
    coco_ids = torch.tensor((0, *dataset.categories.coco_ids))
    tensors = [image.float() / 255.0 for image in images]
    converted = [{"boxes": t["boxes"], "labels": coco_ids[t["labels"]]} for t in targets]
    return tensors, converted


def train_briefly(
    model: nn.Module, dataset: CocoDetection, steps: int, batch_size: int = 8, lr: float = 1e-3
) -> nn.Module:
    """``steps`` AdamW steps of torchvision's SSD training loss (``model(images, targets)``)."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    progress = tqdm(total=steps, desc="training torchvision SSDLite briefly", unit="step")
    step = 0
    while step < steps:
        for images, targets in loader:
            if step == steps:
                break
            inputs, labels = _to_torchvision_targets(dataset, images, targets)
            losses = model(inputs, labels)
            loss = sum(losses.values())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            progress.update()
            progress.set_postfix(loss=f"{loss.item():.3f}")
    progress.close()
    return model.eval()


def trained_like_state_dict(
    model: nn.Module, dataset: CocoDetection, steps: int, cache: str | Path
) -> dict[str, Tensor]:
    """``model``'s state dict after :func:`train_briefly`, read from ``cache`` when present."""
    cache = Path(cache)
    if cache.is_file():
        log.info("trained-like weights from %s", cache)
        return torch.load(cache, weights_only=True)
    state = train_briefly(model, dataset, steps).state_dict()
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, cache)
    return state
