"""``detect serve-web``: a web export's folder on 127.0.0.1, cross-origin isolated (threads)."""

from __future__ import annotations

from omegaconf import DictConfig

from detect.export.web import server


def run_serve_web(cfg: DictConfig) -> None:
    """Serve ``cfg.folder`` until interrupted (Ctrl-C)."""
    trusted = cfg.get("trusted_hosts")
    httpd = server(cfg.folder, cfg.port, cfg.host, None if trusted is None else tuple(trusted))
    host, port = httpd.server_address[:2]
    print(f"serving {cfg.folder} at http://{host}:{port}/ (cross-origin isolated; Ctrl-C stops)")
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
