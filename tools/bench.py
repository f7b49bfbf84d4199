"""Inference latency, params and MAdds of SSDLite configurations or a checkpoint, optionally
beside torchvision's SSDLite on the same weights: python tools/bench.py --help."""

import hydra
from omegaconf import DictConfig

from detect.evaluation.bench import Backends, bench, format_report
from detect.evaluation.trained_like import TrainedLike


@hydra.main(config_path="../conf", config_name="bench", version_base="1.3")
def main(cfg: DictConfig) -> None:
    report = bench(
        backbones=list(cfg.backbones),
        widths=list(cfg.widths),
        sizes=list(cfg.sizes),
        reduced_tail=cfg.reduced_tail,
        ckpt=cfg.ckpt,
        device=cfg.device,
        num_threads=cfg.threads,
        batch_size=cfg.batch_size,
        warmup=cfg.warmup,
        runs=cfg.runs,
        compare_torchvision=cfg.compare_torchvision,
        images_dir=cfg.images_dir,
        seed=cfg.seed,
        backends=Backends(
            list(cfg.backends), cfg.calibration_dir, cfg.calibration_images, cfg.spin
        ),
        weights=cfg.weights,
        trained_like=TrainedLike(**cfg.trained_like),
    )
    settings = report.settings
    print(
        f"{settings['device']} ({settings['device_name']}), {cfg.threads} threads, batch "
        f"{cfg.batch_size}; images: {settings['images']}; {cfg.warmup} warm-up + "
        f"{cfg.runs} timed runs per model\n"
    )
    print(format_report(report))
    report.to_json(cfg.output)
    print(f"\nwritten to {cfg.output}")


if __name__ == "__main__":
    main()
