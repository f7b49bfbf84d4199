"""detect serve: the config → the model and the server's settings (see :mod:`detect.serve`)."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from detect.serve import ServeConfig, require_extra


def run_serve(cfg: DictConfig) -> None:
    """Check the settings and the extra, load the model once (a bad checkpoint fails here, and
    fills the export cache the workers load from), then serve until SIGTERM."""
    require_extra()
    settings = OmegaConf.to_container(cfg.serve, resolve=True)
    config = ServeConfig.from_plain({**settings, "host": cfg.host, "port": cfg.port})
    load = {
        "path": str(cfg.ckpt),
        "backend": cfg.backend,
        "device": cfg.device,
        "threads": cfg.threads,
        "cache": cfg.cache,
        "cache_dir": cfg.cache_dir,
        "hub": OmegaConf.to_container(cfg.hub, resolve=True),
    }
    from detect.serve.run import check_port, load_model, serve

    check_port(config)
    if config.workers == 1:
        serve(config, loaded=load_model(load), load=load)
        return
    load_model(load)  # checks the file and fills the export cache; each worker loads its own
    serve(config, load=load)  # (the parent keeps no copy: it only supervises)
