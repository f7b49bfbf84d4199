import pytest

from detect.evaluation.cost import (
    PAPER_FIGURES,
    analytic_cost,
    analytic_layers,
    cost_table,
    counted_cost,
    format_cost_table,
)
from detect.models import BACKBONES, backbone_spec, mobilenet


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("width", [1.0, 0.75, 0.5, 0.35])
def test_analytic_cost_equals_counted(name, width):
    assert analytic_cost(backbone_spec(name, width)) == counted_cost(mobilenet(name, width))


@pytest.mark.parametrize("size", [320, 225])
def test_analytic_cost_equals_counted_at_other_sizes(size):
    spec = backbone_spec("v3_large", reduced_tail=True)
    model = mobilenet("v3_large", reduced_tail=True)
    assert analytic_cost(spec, size) == counted_cost(model, size)


@pytest.mark.parametrize(
    "key", [k for k in PAPER_FIGURES if k[1] == 1.0 or k[0] in ("v1", "v2")], ids=str
)
def test_madds_match_published_figures_within_3_percent(key):
    name, width = key
    madds = analytic_cost(backbone_spec(name, width)).madds / 1e6
    assert madds == pytest.approx(PAPER_FIGURES[key].madds_m, rel=0.03)


def test_madds_quadratic_in_resolution():
    """V1 §3.4: the resolution multiplier ρ scales cost by about ρ²."""
    spec = backbone_spec("v1")
    ratio = analytic_cost(spec, 448).madds / analytic_cost(spec, 224).madds
    assert ratio == pytest.approx(4.0, rel=0.01)


def test_depthwise_layer_uses_the_depthwise_formula():
    layer = next(x for x in analytic_layers(backbone_spec("v1")) if x.kind == "depthwise")
    assert layer.madds == 3 * 3 * 32 * 112 * 112  # D_K·D_K·M·D_F·D_F, V1 eq. 3


def test_table_lists_every_combination_with_paper_deltas():
    rows = cost_table(["v1", "v3_small"], [1.0, 0.35])
    table = format_cost_table(rows)
    assert len(table.splitlines()) == 2 + 4
    assert "| v1 | 1 | 4.232 | 4.232 | 4.2 | +0.8% | 568.7 | 568.7 | 569 |" in table
