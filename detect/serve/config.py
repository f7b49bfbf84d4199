"""The server's settings (``serve.*`` of ``detect serve``), checked once."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from detect.errors import ConfigError
from detect.hosts import default_names

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServeConfig:
    """``host``/``port``: where to listen (127.0.0.1: this machine only). ``workers``: server
    processes (each loads the model; streams need 1). ``max_batch`` / ``max_wait_ms``: the
    dynamic batch (most images per detector call, and how long the first image waits for
    others). ``queue_size``: images waiting at most (beyond: 503 + Retry-After).
    ``max_upload_mb``: a request body's cap (413); ``max_pixels`` / ``max_request_pixels``: the
    pixels an image / a request decodes to, known from the headers before decoding (413);
    ``max_queued_pixels``: decoded pixels in flight across requests (beyond: 503);
    ``decode_min_side``: a large JPEG is decoded reduced (1/2, 1/4, 1/8: libjpeg's DCT
    scaling) while its shorter side stays at least this; ``max_images``: images per request.
    ``api_key``: every route but /healthz, /readyz, the page and /docs needs
    ``Authorization: Bearer <key>`` (None: open).
    ``trusted_hosts``: the ``Host`` names answered (others: 421); None: loopback names and the
    listening address; ``["*"]``: any (behind a proxy that checks it).
    ``stream_dirs``: folders whose video files streams may read; ``allowed_hosts``: hosts or
    networks (CIDR) a stream may reach although loopback, link-local or private to the server;
    ``only_allowed_hosts``: streams reach those alone (no public host either);
    ``max_streams``: streams at once. ``score_thresh``: the default of /v1/detect.
    ``header_timeout_s`` / ``body_timeout_s``: a request's headers / body must arrive within
    these (else the connection is closed); ``keepalive_s``: an idle connection's life."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch: int = 8
    max_wait_ms: float = 5.0
    queue_size: int = 64
    max_upload_mb: float = 20.0
    max_pixels: int = 16_000_000
    max_request_pixels: int = 32_000_000
    max_queued_pixels: int = 64_000_000
    decode_min_side: int = 640
    max_images: int = 16
    api_key: str | None = None
    trusted_hosts: tuple[str, ...] | None = None
    stream_dirs: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    only_allowed_hosts: bool = False
    max_streams: int = 4
    stream_timeout_s: float = 10.0
    stream_history: int = 256
    score_thresh: float = 0.3
    retry_after_s: int = 1
    graceful_s: float = 30.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    keepalive_s: float = 5.0
    access_log: bool = True

    def __post_init__(self) -> None:
        positive = (
            "workers",
            "max_batch",
            "queue_size",
            "max_pixels",
            "max_request_pixels",
            "max_queued_pixels",
            "max_images",
            "decode_min_side",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"serve.{name} must be at least 1, not {getattr(self, name)}")
        if self.max_wait_ms < 0 or self.max_upload_mb <= 0 or self.max_streams < 0:
            raise ConfigError(
                "serve: need max_wait_ms ≥ 0, max_upload_mb > 0 and max_streams ≥ 0, got "
                f"{self.max_wait_ms}, {self.max_upload_mb}, {self.max_streams}"
            )
        timeouts = (self.header_timeout_s, self.body_timeout_s, self.keepalive_s)
        if min(timeouts) <= 0:
            raise ConfigError(
                "serve: header_timeout_s, body_timeout_s and keepalive_s must be > 0, got "
                f"{', '.join(str(t) for t in timeouts)}"
            )
        if not self.max_pixels <= self.max_request_pixels <= self.max_queued_pixels:
            raise ConfigError(
                "serve: need max_pixels ≤ max_request_pixels ≤ max_queued_pixels, got "
                f"{self.max_pixels}, {self.max_request_pixels}, {self.max_queued_pixels}"
            )
        if not 0 < self.port < 65536:
            raise ConfigError(f"serve.port must be in 1..65535, not {self.port}")
        if self.api_key == "":
            object.__setattr__(self, "api_key", None)
        for name in ("stream_dirs", "allowed_hosts"):
            value = getattr(self, name)
            object.__setattr__(self, name, tuple(str(v) for v in (value or ())))
        if self.trusted_hosts is not None:
            object.__setattr__(self, "trusted_hosts", tuple(str(v) for v in self.trusted_hosts))
        for folder in self.stream_dirs:
            if not Path(folder).is_dir():
                raise ConfigError(f"serve.stream_dirs: {folder!r} is not a folder")

    @classmethod
    def from_plain(cls, values: dict[str, Any]) -> ServeConfig:
        """From a plain dict (the config's ``serve`` node); an unknown key is refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"serve: unknown key(s) {unknown}; known: {', '.join(sorted(known))}")
        return cls(**values)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def host_names(self) -> tuple[str, ...]:
        """The ``Host`` names answered: ``trusted_hosts``, else the loopback names and the
        listening address (see :mod:`detect.serve.hosts`)."""
        if self.trusted_hosts is not None:
            return self.trusted_hosts
        return default_names(self.host)

    @property
    def exposed(self) -> bool:
        """Listening beyond this machine."""
        return self.host not in LOCAL_HOSTS
