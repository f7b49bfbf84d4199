"""Starting points other than scratch: ImageNet backbones, name-matched fine-tuning from a
detector with other classes, and a resume that extends the run."""

from __future__ import annotations

import json
import logging
import math

import pytest
import torch
import torchvision
from lightning.pytorch.callbacks import Callback
from support.checkpoints import make_checkpoint
from support.configs import compose_config, tiny
from support.models import well_conditioned, with_real_bn_statistics

from detect.cli.train import build
from detect.data.coco import CocoDetection
from detect.errors import ConfigError
from detect.evaluation.evaluate import evaluate
from detect.models.convert import remap_in_order
from detect.models.predictor import Predictor
from detect.training.optim import WarmupCosine
from detect.weights.checkpoint import MODEL_PREFIX, load_checkpoint


class Record(Callback):
    """The backbone's tensors when training starts, and the learning rate of every step."""

    def __init__(self) -> None:
        self.backbone: dict[str, torch.Tensor] = {}
        self.rates: list[float] = []

    def on_train_start(self, trainer, module) -> None:
        state = module.model.features.backbone.state_dict()
        self.backbone = {key: value.clone() for key, value in state.items()}

    def on_train_batch_start(self, trainer, module, *args) -> None:
        self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["v2", "v3_large", "v3_small"])
def test_an_imagenet_backbone_is_what_the_first_step_starts_from(
    name, real_images, tiny_shapes, tmp_path
):
    torch.manual_seed(0)
    classifier = getattr(torchvision.models, f"mobilenet_{name}")(weights=None)
    with_real_bn_statistics(classifier, lambda: classifier(real_images))
    path = tmp_path / "imagenet.pth"
    torch.save(classifier.state_dict(), path)
    overrides = [
        f"backbone={name}",
        "backbone.width_mult=1.0",
        "backbone.pretrained=imagenet",
        f"hub.weights_path={path}",
        "+trainer.max_steps=1",
    ]
    run = build(compose_config("train", tiny(tiny_shapes, tmp_path, *overrides)))
    record = Record()
    run.trainer.callbacks.append(record)
    run.trainer.fit(run.module, datamodule=run.datamodule)
    features = {k: v for k, v in classifier.state_dict().items() if not k.startswith("classifier")}
    expected = remap_in_order(features, record.backbone)
    assert expected.keys() == record.backbone.keys() and len(expected) > 100
    for key, value in expected.items():
        assert torch.equal(record.backbone[key], value), key
    bn = next(m for m in run.module.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert (bn.eps, bn.momentum) == (0.001, 0.03)  # SSDLite's BN settings kept


def test_pretrained_needs_a_published_backbone_at_width_one(tiny_shapes, tmp_path):
    with pytest.raises(ConfigError, match="no ImageNet weights for v1"):
        build(
            compose_config(
                "train", tiny(tiny_shapes, tmp_path, "backbone=v1", "backbone.pretrained=imagenet")
            )
        )
    with pytest.raises(ConfigError, match=r"width_mult=1\.0"):
        build(compose_config("train", tiny(tiny_shapes, tmp_path, "backbone.pretrained=imagenet")))


def subset_without(annotations: dict, drop: str) -> dict:
    """A COCO dict without one category and its boxes."""
    gone = {c["id"] for c in annotations["categories"] if c["name"] == drop}
    return {
        **annotations,
        "categories": [c for c in annotations["categories"] if c["id"] not in gone],
        "annotations": [a for a in annotations["annotations"] if a["category_id"] not in gone],
    }


def test_finetuning_onto_a_subset_starts_exactly_at_the_source_ap(coco_images, tmp_path, caplog):
    shapes = tmp_path / "shapes"
    source_file = make_checkpoint(tmp_path / "source.ckpt", shapes)
    model = well_conditioned(load_checkpoint(source_file).model, coco_images)
    raw = torch.load(source_file, weights_only=True)
    raw["state_dict"] = {MODEL_PREFIX + k: v for k, v in model.state_dict().items()}
    torch.save(raw, source_file)
    source = load_checkpoint(source_file)
    val = shapes / "annotations" / "instances_val.json"
    source_val = CocoDetection(shapes / "val", val)
    before = evaluate(Predictor(source.model), source_val, progress=False)
    before.compute()
    per_class = before.per_category()
    assert per_class["circle"][0] > 0 and per_class["triangle"][0] > 0
    subset = tmp_path / "no_squares.json"
    subset.write_text(json.dumps(subset_without(json.loads(val.read_text()), "square")))
    data = [
        "data=coco",
        f"data.root={shapes}",
        f"data.train.image_dir={shapes / 'val'}",
        f"data.train.annotation_file={subset}",
        f"data.val.image_dir={shapes / 'val'}",
        f"data.val.annotation_file={subset}",
    ]
    with caplog.at_level(logging.INFO):
        run = build(
            compose_config("train", [*data, f"init_from={source_file}", f"runs_dir={tmp_path}"])
        )
    assert "matched: circle, triangle" in caplog.text
    assert "folded into background: square" in caplog.text
    assert run.module.model.head.folded_classes == (3,)
    target_val = CocoDetection(shapes / "val", subset)
    after = evaluate(Predictor(run.module.model), target_val, progress=False)
    metrics, _ = after.compute()
    table = after.per_category()
    for name in ("circle", "triangle"):  # before any step: the source's AP, exactly
        assert table[name] == pytest.approx(per_class[name], abs=1e-12), name
    assert metrics["AP"] == pytest.approx((per_class["circle"][0] + per_class["triangle"][0]) / 2)


@pytest.mark.slow
def test_a_resume_with_more_epochs_extends_the_schedule_continuously(tiny_shapes, tmp_path, caplog):
    overrides = tiny(tiny_shapes, tmp_path, "run_name=x")
    first = build(compose_config("train", overrides))
    first.trainer.fit(first.module, datamodule=first.datamodule)
    assert first.trainer.global_step == 6  # 2 epochs × 3 steps
    with pytest.raises(ConfigError, match="max_epochs=1 plans only 3 steps"):
        build(compose_config("train", [*overrides, "resume=true", "trainer.max_epochs=1"]))
    with caplog.at_level(logging.INFO):
        run = build(compose_config("train", [*overrides, "resume=true", "trainer.max_epochs=4"]))
        record = Record()
        run.trainer.callbacks.append(record)
        run.trainer.fit(run.module, datamodule=run.datamodule, ckpt_path=run.ckpt_path)
    assert run.trainer.global_step == 12
    assert "schedule extended from 6 to 12 steps at step 6" in caplog.text
    base = 0.01  # debug=tiny's rate; warm-up 0.5 epoch = 2 steps, cosine to 0
    old = WarmupCosine(6, 2, 0.001, 0.0)
    assert record.rates[0] == pytest.approx(base * old(6), abs=1e-12)  # continuous at the join
    longer = WarmupCosine(12, 2, 0.001, 0.0)
    ramp_end = base * longer.planned(8)
    assert record.rates[1] == pytest.approx((record.rates[0] + ramp_end) / 2)
    for step in range(8, 12):  # then the cosine planned over the new length
        expected = base * (1 + math.cos(math.pi * (step - 2) / 10)) / 2
        assert record.rates[step - 6] == pytest.approx(expected), step
