"""Running the app: uvicorn in this process (``workers=1``) or N worker processes, each loading
the model (from the export cache the parent filled); SIGTERM or Ctrl-C stop it gracefully:
no new connections, in-flight requests answered, streams and their sources closed, exit 0."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from detect.errors import ConfigError
from detect.hosts import WILDCARDS
from detect.inference.backends import LoadedDetector, load_detector
from detect.serve.app import create_app
from detect.serve.config import ServeConfig
from detect.serve.protocol import guarded_config
from detect.weights.hub import HubConfig

log = logging.getLogger("detect.serve")

SPEC_ENV = "DETECT_SERVE_SPEC"  # the workers' model and settings, as JSON
KEY_ENV = "DETECT_API_KEY"
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's multiprocess mode (workers > 1)
PR_SET_PDEATHSIG = 1


def with_env_key(config: ServeConfig) -> ServeConfig:
    """``serve.api_key``, else ``$DETECT_API_KEY``."""
    key = config.api_key or os.environ.get(KEY_ENV) or None
    return ServeConfig(**{**config.__dict__, "api_key": key})


def warn_if_exposed(config: ServeConfig) -> None:
    if config.host in WILDCARDS and config.trusted_hosts is None:
        log.warning(
            "listening on %s with the default serve.trusted_hosts (%s): requests naming any "
            "other Host get 421; set serve.trusted_hosts to the names clients use",
            config.host,
            ", ".join(config.host_names),
        )
    if config.exposed and not config.api_key:
        log.warning(
            "listening on %s without an API key: anyone who reaches this port can use the model "
            "and open streams; set serve.api_key or DETECT_API_KEY",
            config.host,
        )


def setup_logging() -> None:
    """Our lines (and the access log's JSON) on stderr, uvicorn's beside them."""
    root = logging.getLogger("detect")
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False


def uvicorn_config(app: Any, config: ServeConfig, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for ``config``: our protocol's header/body timeouts, keep-alive."""
    return guarded_config(
        app,
        config.header_timeout_s,
        config.body_timeout_s,
        host=config.host,
        port=config.port,
        access_log=False,  # ours is structured (detect.serve.access)
        log_level="info",
        timeout_graceful_shutdown=config.graceful_s,
        timeout_keep_alive=config.keepalive_s,
        lifespan="on",
        **options,
    )


def check_port(config: ServeConfig) -> None:
    """The address can be listened on (before a model takes seconds to load), or one line."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.host, config.port))
        except OSError as error:
            raise ConfigError(
                f"cannot listen on {config.host}:{config.port} ({error.strerror}): another "
                "server holds the port, or pick another with port="
            ) from None


def serve(
    config: ServeConfig,
    loaded: LoadedDetector | None = None,
    load: dict[str, Any] | None = None,
) -> None:
    """Serve until SIGTERM / Ctrl-C. One process: ``loaded`` (or ``load``, load_detector's
    arguments). ``workers`` > 1: each worker loads ``load`` itself."""
    setup_logging()
    config = with_env_key(config)
    warn_if_exposed(config)
    if config.workers > 1:
        if load is None:
            raise ConfigError("serve.workers > 1 needs the model's file: each worker loads it")
        os.environ[SPEC_ENV] = json.dumps({"load": load, "serve": config.__dict__})
        os.environ.setdefault(METRICS_ENV, tempfile.mkdtemp(prefix="detect-metrics-"))
        supervised = uvicorn_config(
            "detect.serve.run:worker_app",
            config,
            factory=True,
            workers=config.workers,
            # a worker imports torch and loads the model before it answers the supervisor's
            # health check reliably: uvicorn's 5 s kills it in a loop on a busy machine
            timeout_worker_healthcheck=120,
        )
        try:
            Multiprocess(supervised, sockets=[supervised.bind_socket()]).run()
        except KeyboardInterrupt:
            pass
        finally:
            shutil.rmtree(os.environ[METRICS_ENV], ignore_errors=True)
        return
    if loaded is None:
        loaded = load_model(load or {})
    server = Server(create_app(loaded, config), config)
    # uvicorn handles SIGTERM/SIGINT, shuts down, then raises the signal again for the handler
    # it replaced: ours makes that a clean return (exit 0), since the stop was graceful
    before = signal.signal(signal.SIGTERM, stopped)
    try:
        server.run()
    except (SystemExit, KeyboardInterrupt) as stop:
        if isinstance(stop, SystemExit) and stop.code not in (0, None):
            raise
    finally:
        signal.signal(signal.SIGTERM, before)


class Server(uvicorn.Server):
    """uvicorn's server, telling the app when shutdown begins: its live media responses (SSE,
    MJPEG: endless by nature) end then, so the graceful wait is for real requests only."""

    def __init__(self, app: Any, config: ServeConfig) -> None:
        super().__init__(uvicorn_config(app, config))
        self.closing = app.state.shared.closing

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.closing.set()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        """Shut down as on SIGTERM (from another thread)."""
        self.closing.set()
        self.should_exit = True


def stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def load_model(load: dict[str, Any]) -> LoadedDetector:
    options = dict(load)
    hub = HubConfig(**options.pop("hub", {}) or {})
    return load_detector(hub=hub, **options)


def die_with_parent() -> None:
    """This worker gets SIGTERM when the supervisor dies, even by SIGKILL (Linux's
    ``PR_SET_PDEATHSIG``): no orphan keeps serving the port. Elsewhere, a thread watches the
    parent's pid and stops the process."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before the call
                os.kill(os.getpid(), signal.SIGTERM)
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent watch", daemon=True).start()


def worker_app():
    """A worker process's app (``uvicorn --factory``), from ``$DETECT_SERVE_SPEC``."""
    die_with_parent()
    setup_logging()
    spec = json.loads(os.environ[SPEC_ENV])
    return create_app(load_model(spec["load"]), ServeConfig(**spec["serve"]))
