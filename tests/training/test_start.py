"""The weights a run starts from, on plain arguments: continued, fine-tuned, or from the config."""

from __future__ import annotations

import pytest
import torch

from detect.data.categories import CategoryMap
from detect.errors import ConfigError
from detect.models.factory import build_detector
from detect.training.start import Start, for_categories, load_start_weights, plan_start
from detect.weights.checkpoint import load_checkpoint

UNUSED = {"batch_size": 32, "max_epochs": None}  # what the resume checks compare (tiny_ckpt fits)


def test_without_a_source_the_config_is_the_network(tiny_ckpt):
    config = load_checkpoint(tiny_ckpt).model_config
    start = plan_start(config, **UNUSED)
    assert start == Start(config)
    assert for_categories(start, CategoryMap((1,), ("a",))) is start


def test_a_resumed_run_is_the_checkpoints_network(tiny_ckpt):
    start = plan_start({"size": 1}, **UNUSED, resume_from=tiny_ckpt, init_from="ignored")
    assert start.model_config == load_checkpoint(tiny_ckpt).model_config
    assert start.resume_from == str(tiny_ckpt) and start.source is None


def test_a_fine_tuned_start_copies_the_sources_rows_of_the_categories_it_knows(tiny_ckpt):
    source = load_checkpoint(tiny_ckpt)
    start = plan_start({"size": 1}, **UNUSED, init_from=tiny_ckpt)
    assert start.model_config == source.model_config and start.plan is None
    known = source.categories.names[1]
    categories = CategoryMap((1, 2), ("new", known))
    model = build_detector(start.model_config, categories.num_classes)
    with pytest.raises(ValueError, match="for_categories"):
        load_start_weights(start, model)
    start = for_categories(start, categories, fold_unmatched=False)
    assert start.plan.matched == [known] and start.plan.new == ["new"]
    model = build_detector(start.model_config, categories.num_classes)
    load_start_weights(start, model)
    for mine, theirs in zip(
        model.features.parameters(), source.model.features.parameters(), strict=True
    ):
        assert torch.equal(mine, theirs)
    head, source_head = model.head.classification[0][-1], source.model.head.classification[0][-1]
    outputs, theirs = model.head.outputs, source.model.head.outputs
    assert torch.equal(head.bias[2::outputs], source_head.bias[2::theirs])  # known: label 2 → 2


def test_the_architecture_is_the_sources_or_the_configs(tiny_ckpt):
    config = {**load_checkpoint(tiny_ckpt).model_config, "size": 128}
    start = plan_start(config, **UNUSED, init_from=tiny_ckpt, architecture="config")
    assert start.model_config == config and start.source is not None
    with pytest.raises(ConfigError, match=r"finetune\.architecture=mine: choose source or config"):
        plan_start(config, **UNUSED, init_from=tiny_ckpt, architecture="mine")
