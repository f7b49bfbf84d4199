"""Parameter groups, the warm-up + cosine schedule and the EMA's decay ramp."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from detect.models import ssdlite
from detect.training.ema import EMA
from detect.training.optim import ScheduleConfig, is_depthwise, parameter_groups, warmup_cosine


def test_no_weight_decay_on_bn_biases_and_depthwise_filters():
    model = ssdlite("v2", width_mult=0.5, num_classes=4, size=160)
    decay, no_decay = parameter_groups(model)
    assert no_decay["weight_decay"] == 0.0 and "weight_decay" not in decay
    decayed = {id(p) for p in decay["params"]}
    exempt = {id(p) for p in no_decay["params"]}
    assert not decayed & exempt
    assert len(decayed) + len(exempt) == len(list(model.parameters()))
    for module in model.modules():
        for name, parameter in module.named_parameters(recurse=False):
            if isinstance(module, nn.BatchNorm2d) or name == "bias" or is_depthwise(module):
                assert id(parameter) in exempt, (module, name)
            else:
                assert isinstance(module, nn.Conv2d) and id(parameter) in decayed
    depthwise = [m for m in model.modules() if is_depthwise(m)]
    assert len(depthwise) > 20  # backbone blocks, extras and the head's separable convs


def test_warmup_then_cosine_to_the_floor():
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.2)
    config = ScheduleConfig(warmup_epochs=2, warmup_factor=0.01, min_lr_ratio=0.1)
    scheduler = warmup_cosine(optimizer, config, total_steps=100, steps_per_epoch=10)
    rates = []
    for _ in range(100):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.002)
    assert rates[:21] == sorted(rates[:21]) and rates[20] == pytest.approx(0.2)
    assert rates[20:] == sorted(rates[20:], reverse=True)
    cosine_at = 0.02 + 0.18 * (1 + math.cos(math.pi * 40 / 80)) / 2  # 40 steps into cosine
    assert rates[60] == pytest.approx(cosine_at)
    assert rates[-1] == pytest.approx(0.02, abs=1e-3)


def test_ema_decay_ramps_up_and_averages():
    ema = EMA(decay=0.99, warmup_updates=10)
    assert ema.decay_at(0) == 0.0
    assert ema.decay_at(10) == pytest.approx(0.99 * (1 - math.exp(-1)))
    assert ema.decay_at(10_000) == pytest.approx(0.99)
    averaged = [torch.ones(3), torch.full((2,), 2.0)]
    ema.average(averaged, [torch.zeros(3), torch.zeros(2)], torch.tensor(10_000))
    torch.testing.assert_close(averaged, [torch.full((3,), 0.99), torch.full((2,), 1.98)])
    counters = [torch.tensor(5)]
    ema.average(counters, [torch.tensor(9)], torch.tensor(3))
    assert int(counters[0]) == 9  # integer buffers (BN's num_batches_tracked) follow the model
    with pytest.raises(ValueError, match="decay"):
        EMA(decay=1.0)
