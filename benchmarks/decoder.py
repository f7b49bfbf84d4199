"""The numpy raw-heads decoder timed alone, interleaved with the same postprocessing inside the
whole ONNX graph, on stored head outputs of real images.

What a phone app runs after a network-only file (LiteRT, NCNN, OpenVINO): the heads → the
detections. Per image, in one interleaved loop: the decoder at predict's settings (score 0.3,
the cut ``detect predict`` applies, moved into decoding: the same detections), the decoder at
eval's (the model's own: score 0.001, 300 per class), ONNX Runtime's whole graph and its
network alone; the graph's postprocessing is their difference (per image, then the median).
The decoder's detections are checked against the whole graph's on every image first.

    python -m benchmarks.decoder --ckpt runs/<run>/checkpoints/last.ckpt --images 20
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from torch import Tensor

from detect.data.categories import CategoryMap
from detect.data.images import load_images
from detect.export.decode import Decoder
from detect.export.onnx import decoder_for, export_bytes, match_detections, metadata_for
from detect.export.runtime import OUTPUT_NAMES, RAW_OUTPUT_NAMES, open_session
from detect.models import SSDLite
from detect.weights.sources import open_checkpoint

PREDICT_THRESH = 0.3  # detect predict's score_thresh (conf/predict.yaml)


@dataclass(frozen=True)
class DecoderTimes:
    """Median milliseconds per image (a shared machine's medians include other processes'
    time slices, longer calls more often: the fastest runs are listed too), and how many
    detections each setting gave in all."""

    predict: float
    eval: float
    graph_postprocess: float
    graph: float
    network: float
    detections_predict: int
    detections_eval: int
    images: int
    unmatched: int  # decoder vs whole graph, eval's settings, over all images
    fastest: dict[str, float]  # the minimum of each, ms: what a quiet machine gives

    def lines(self) -> list[str]:
        return [
            f"{self.images} images, decoder vs whole graph: "
            + ("identical" if self.unmatched == 0 else f"{self.unmatched} UNMATCHED"),
            f"decoder, predict's settings (score > {PREDICT_THRESH}): {self.predict:.2f} ms "
            f"({self.detections_predict} detections)",
            f"decoder, eval's settings (score > 0.001, 300 per class): {self.eval:.2f} ms "
            f"({self.detections_eval} detections)",
            f"whole graph's postprocess (graph − network, ONNX Runtime): "
            f"{self.graph_postprocess:.2f} ms (graph {self.graph:.2f}, network "
            f"{self.network:.2f})",
            f"ratio decoder (eval's settings) ÷ graph's postprocess: "
            f"{self.eval / self.graph_postprocess:.2f}",
            "fastest run of each, ms: "
            + ", ".join(f"{key} {value:.2f}" for key, value in self.fastest.items()),
        ]


def timed(call: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    call(*args)
    return time.perf_counter() - start


def measure(
    model: SSDLite, images: Sequence[Tensor], runs: int = 20, threads: int = 2
) -> DecoderTimes:
    """The decoder alone on ``model``'s stored heads of ``images``, interleaved with ONNX
    Runtime's whole graph and network alone (``threads`` intra-op threads)."""
    ids = tuple(range(1, model.num_classes))
    categories = CategoryMap(ids, tuple(f"class {i}" for i in ids))
    whole = open_session(export_bytes(model, metadata_for(model, categories, {}, {})), threads)
    raw = open_session(export_bytes(model, metadata_for(model, categories, {}, {}, "raw")), threads)
    evaluate: Decoder = decoder_for(model)
    predict = evaluate.with_settings(score_thresh=PREDICT_THRESH)
    batches = [{"images": image.numpy()[None]} for image in images]
    heads = [[o[0] for o in raw.run(list(RAW_OUTPUT_NAMES), batch)] for batch in batches]
    sizes = [tuple(image.shape[1:]) for image in images]
    unmatched, found = 0, {"predict": 0, "eval": 0}
    for batch, (logits, codes), size in zip(batches, heads, sizes, strict=True):
        boxes, scores, labels, _ = whole.run(list(OUTPUT_NAMES), batch)
        mine = evaluate(logits, codes, size)
        unmatched += match_detections(mine, {"boxes": boxes, "scores": scores, "labels": labels})[0]
        found["eval"] += len(mine["scores"])
        found["predict"] += len(predict(logits, codes, size)["scores"])
    samples: dict[str, list[float]] = {key: [] for key in ("predict", "eval", "graph", "network")}
    post: list[float] = []
    for _ in range(runs + 2):  # two warm-up rounds, not kept
        for batch, (logits, codes), size in zip(batches, heads, sizes, strict=True):
            times = {
                "predict": timed(predict, logits, codes, size),
                "eval": timed(evaluate, logits, codes, size),
                "graph": timed(whole.run, list(OUTPUT_NAMES), batch),
                "network": timed(raw.run, list(RAW_OUTPUT_NAMES), batch),
            }
            for key, value in times.items():
                samples[key].append(value)
            post.append(times["graph"] - times["network"])
    skip = 2 * len(batches)
    median = {key: 1000 * statistics.median(values[skip:]) for key, values in samples.items()}
    return DecoderTimes(
        median["predict"],
        median["eval"],
        1000 * statistics.median(post[skip:]),
        median["graph"],
        median["network"],
        found["predict"],
        found["eval"],
        len(images),
        unmatched,
        {key: 1000 * min(values[skip:]) for key, values in samples.items()},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", required=True, help="a detect checkpoint (or torchvision:…)")
    parser.add_argument(
        "--images-dir", default="../shared/data/coco_subset/val2017", type=Path, help="JPEGs"
    )
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    model = open_checkpoint(args.ckpt).model.eval()
    images = load_images(args.images_dir, args.images)
    for line in measure(model, images, args.runs, args.threads).lines():
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
