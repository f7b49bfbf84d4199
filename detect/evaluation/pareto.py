"""mAP against latency (MobileNetV3 paper Figure 1 / Table 6 style): one point per model, the
Pareto front marked, a markdown + csv table and a PNG plot.

Points come from checkpoints (mAP measured on their validation set, latency on this machine) and
from plain configurations (backbone × width × size: latency, params and MAdds only — the cost
curve to choose from before training).
"""

from __future__ import annotations

import csv
import functools
import glob
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure  # the object API: no display or backend state needed

from detect.errors import CheckpointError
from detect.evaluation.cost import counted_cost
from detect.evaluation.evaluate import evaluate, model_dataset
from detect.evaluation.latency import measure_detector, measure_runners, opaque_runner, threads
from detect.inference.backends import load_detector
from detect.io import atomic_write
from detect.models import SSDLite, ssdlite
from detect.models.backbones import backbone_options
from detect.models.predictor import Predictor
from detect.weights.checkpoint import load_checkpoint


@dataclass(frozen=True)
class ModelPoint:
    """One model: cost, latency (median ms, end to end) and, for a checkpoint, its mAP."""

    name: str
    params: int
    madds: int
    latency_ms: float
    latency_p90_ms: float
    ap: float | None = None
    ap50: float | None = None
    source: str = "config"


def find_checkpoints(entries: Sequence[str]) -> list[Path]:
    """Files, run directories (their best checkpoint, else ``last.ckpt``) and glob patterns
    (whose matches are run directories and ``.ckpt`` files; e.g. a sweep's ``multirun.yaml``
    is skipped)."""
    found: list[Path] = []
    for entry in entries:
        matches = sorted(glob.glob(str(entry))) or [str(entry)]
        for match in map(Path, matches):
            if match.is_file():
                if str(match) == str(entry) or match.suffix == ".ckpt":  # a glob skips others
                    found.append(match)
            elif match.is_dir():
                found.append(run_checkpoint(match))
            else:
                raise CheckpointError(f"no checkpoint or run directory at {match}")
    return found


def run_checkpoint(run_dir: Path) -> Path:
    """A run directory's best checkpoint (newest if several), or its ``last.ckpt``."""
    folder = run_dir / "checkpoints"
    best = sorted(folder.glob("best-*.ckpt"), key=lambda p: p.stat().st_mtime)
    if best:
        return best[-1]
    if (folder / "last.ckpt").is_file():
        return folder / "last.ckpt"
    raise CheckpointError(f"{run_dir} holds no checkpoints/best-*.ckpt or last.ckpt")


def model_name(model: SSDLite, backbone: str, width: float) -> str:
    return f"{backbone} ×{width:g} {model.size}px"


def timed_point(
    model: SSDLite, name: str, images: list, warmup: int, runs: int, source: str = "config"
) -> ModelPoint:
    """Params and MAdds (counted, one forward) and the end-to-end latency on ``images``."""
    cost = counted_cost(model, model.size)
    latency = measure_detector(model, images, warmup=warmup, runs=runs).total
    return ModelPoint(name, cost.params, cost.madds, latency.median, latency.p90, source=source)


def checkpoint_points(
    path: Path,
    images: list,
    warmup: int,
    runs: int,
    backends: Sequence[str] = ("pytorch",),
    batch_size: int = 16,
) -> list[ModelPoint]:
    """A trained model on each backend: its end-to-end latency there (PyTorch: as
    :func:`timed_point`; an exported graph: one call per run) and its COCO mAP, on that
    backend, on the set it trained on."""
    checkpoint = load_checkpoint(path)
    backbone = checkpoint.model_config["backbone"]
    name = model_name(checkpoint.model, backbone["name"], backbone["width_mult"])
    dataset = model_dataset(checkpoint.categories, checkpoint.run_config, None, "val", str(path))
    points = []
    for backend in backends:
        if backend == "pytorch":
            point = timed_point(checkpoint.model, name, images, warmup, runs, source=str(path))
            detector = Predictor(checkpoint.model)
        else:
            detector = load_detector(path, backend).detector
            cost = counted_cost(checkpoint.model, checkpoint.model.size)
            runner = {backend: opaque_runner(detector, images)}
            latency = measure_runners(runner, warmup=warmup, runs=runs)[backend].total
            point = ModelPoint(
                f"{name} [{backend}]",
                cost.params,
                cost.madds,
                latency.median,
                latency.p90,
                source=str(path),
            )
        metrics, _ = evaluate(detector, dataset, batch_size, progress=False).compute()
        points.append(
            ModelPoint(**{**point.__dict__, "ap": metrics["AP"], "ap50": metrics["AP50"]})
        )
    return points


def config_point(
    backbone: str, width: float, size: int, images: list, warmup: int, runs: int
) -> ModelPoint:
    """An untrained configuration (91 COCO classes, V3 with the reduced tail as torchvision's
    SSDLite): the cost side only. Its tied scores make postprocess a worst case, so its
    latency is an upper bound next to a trained model's."""
    options = {"reduced_tail": True} if "reduced_tail" in backbone_options(backbone) else {}
    model = ssdlite(backbone, width, num_classes=91, size=size, **options)
    tail = " reduced" if options.get("reduced_tail") else ""
    name = f"{model_name(model, backbone, width)}{tail} (untrained, 91 classes)"
    return timed_point(model, name, images, warmup, runs)


def pareto_front(points: Sequence[ModelPoint], metric: str = "ap") -> list[bool]:
    """True for each point with a metric that no other point beats at lower or equal latency."""
    scored = [(p.latency_ms, getattr(p, metric)) for p in points]
    front = []
    for latency, score in scored:
        if score is None:
            front.append(False)
            continue
        dominated = any(
            other_score is not None
            and other_latency <= latency
            and other_score >= score
            and (other_latency, other_score) != (latency, score)
            for other_latency, other_score in scored
        )
        front.append(not dominated)
    return front


COLUMNS = ("model", "params (M)", "MAdds (G)", "latency (ms)", "p90 (ms)", "AP", "AP50", "front")


def table_rows(points: Sequence[ModelPoint], front: Sequence[bool]) -> list[list[str]]:
    def score(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}"

    return [
        [
            p.name,
            f"{p.params / 1e6:.2f}",
            f"{p.madds / 1e9:.3f}",
            f"{p.latency_ms:.1f}",
            f"{p.latency_p90_ms:.1f}",
            score(p.ap),
            score(p.ap50),
            "★" if on_front else "",
        ]
        for p, on_front in zip(points, front, strict=True)
    ]


def write_tables(points: Sequence[ModelPoint], front: Sequence[bool], output: Path) -> str:
    """``pareto.md`` and ``pareto.csv`` under ``output``; returns the markdown."""
    rows = table_rows(points, front)
    markdown = "\n".join(
        ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        + ["| " + " | ".join(row) + " |" for row in rows]
    )
    atomic_write(output / "pareto.md", markdown + "\n")
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    atomic_write(output / "pareto.csv", table.getvalue())
    return markdown


def plot(points: Sequence[ModelPoint], front: Sequence[bool], path: Path, title: str) -> None:
    """mAP vs latency with the front as a line (when any point has mAP) beside MAdds vs latency
    for every point; each legend entry names the model and its MAdds."""
    scored = [p for p in points if p.ap is not None]
    panels = 2 if scored else 1
    figure = Figure(figsize=(6.5 * panels, 5))
    axes = figure.subplots(1, panels, squeeze=False)
    cost_axis = axes[0][-1]
    for index, point in enumerate(points):  # one colour per model in both panels
        label = f"{point.name} ({point.madds / 1e9:.2f} G MAdds)"
        cost_axis.scatter(point.latency_ms, point.madds / 1e9, label=label, color=f"C{index}")
    cost_axis.set(xlabel="latency (ms, median, this machine)", ylabel="MAdds (G)")
    cost_axis.set_title("cost curve")
    cost_axis.grid(alpha=0.3)
    cost_axis.legend(fontsize=7)
    if scored:
        axis = axes[0][0]
        for index, (point, on_front) in enumerate(zip(points, front, strict=True)):
            if point.ap is None:
                continue
            label = f"{point.name} ({point.madds / 1e9:.2f} G MAdds)"
            axis.scatter(
                point.latency_ms,
                point.ap,
                label=label,
                color=f"C{index}",
                s=70 if on_front else 30,
                edgecolors="black" if on_front else "none",
            )
        best = sorted(
            (p for p, f in zip(points, front, strict=True) if f), key=lambda p: p.latency_ms
        )
        axis.plot(
            [p.latency_ms for p in best], [p.ap for p in best], "k--", lw=1, label="Pareto front"
        )
        axis.set(xlabel="latency (ms, median, this machine)", ylabel="COCO AP (val)")
        axis.set_title("mAP vs latency")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(title)
    figure.tight_layout()
    kind = Path(path).suffix[1:] or "png"
    atomic_write(path, functools.partial(figure.savefig, format=kind, dpi=120))


def pareto_report(
    checkpoints: Sequence[Path],
    configs: Sequence[tuple[str, float, int]],
    images: list,
    output: Path,
    thread_count: int = 2,
    warmup: int = 5,
    runs: int = 30,
    title: str = "",
    backends: Sequence[str] = ("pytorch",),
) -> tuple[list[ModelPoint], str]:
    """Measure every point (each checkpoint on each backend), write the tables and the plot;
    returns the points and the markdown."""
    output.mkdir(parents=True, exist_ok=True)
    with threads(thread_count):
        points = [
            point
            for path in checkpoints
            for point in checkpoint_points(path, images, warmup, runs, backends)
        ]
        points += [config_point(*config, images, warmup, runs) for config in configs]
    if not points:
        raise ValueError("nothing to measure: give runs=[…] (checkpoints) and/or backbones=[…]")
    front = pareto_front(points)
    markdown = write_tables(points, front, output)
    plot(points, front, output / "pareto.png", title)
    return points, markdown
