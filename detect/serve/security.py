"""What keeps a listening server safe: the API key, and the stream sources it may open.

Streams read what the *server* can reach, so a source is a request forgery waiting to happen.
Allowed: ``rtsp``/``rtsps``/``rtmp``/``rtmps``/``http``/``https`` URLs whose host resolves to
no loopback, link-local (169.254.0.0/16 — cloud metadata — fe80::/10), unspecified or
multicast address, unless ``serve.allowed_hosts`` names the host or a network holding it; and
video files under ``serve.stream_dirs`` given by a path without ``..`` that resolves (links
followed) inside one of them. Everything else — ``file:``, other schemes, webcams, other paths
— is refused (422). FFmpeg is then held to the protocols of that kind of source
(``protocol_whitelist``; a file also to container formats, ``format_whitelist``), so a
playlist or concat file cannot pivot to ``file:`` or to other protocols. The host check runs
on the address the name resolves to when the stream is opened; DNS that changes its answer
between the check and FFmpeg's own lookup is not covered (put cameras on a network the
allow-list names).
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from detect.inference.sources import VIDEO_SUFFIXES
from detect.serve.problems import ApiError

SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https")
NETWORK_PROTOCOLS = "http,https,tcp,tls,udp,rtp,rtsp,rtsps,rtmp,rtmps,crypto,httpproxy"
FILE_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg,flv,asf,h264,hevc,mjpeg"
NETWORK_OPTIONS = f"protocol_whitelist;{NETWORK_PROTOCOLS}|rtsp_transport;tcp"
FILE_OPTIONS = f"protocol_whitelist;file|format_whitelist;{FILE_FORMATS}"


def authorized(header: str | None, key: str) -> bool:
    """``Authorization: Bearer <key>``, compared in constant time."""
    if not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].encode(), key.encode())


PUBLIC = ("/healthz", "/", "/docs", "/openapi.json")  # no data: health, the page, the API docs


def is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith("/static/")


@dataclass(frozen=True)
class CheckedSource:
    """A source the server may open: what to open, and FFmpeg's options for it."""

    spec: str
    ffmpeg_options: str


class SourcePolicy:
    """The allow-list of stream sources (see the module's docstring)."""

    def __init__(self, stream_dirs: Sequence[str], allowed_hosts: Sequence[str]) -> None:
        self.dirs = [Path(folder).resolve() for folder in stream_dirs]
        self.hosts = {h.lower() for h in allowed_hosts if not _is_network(h)}
        self.networks = [
            ipaddress.ip_network(h, strict=False) for h in allowed_hosts if _is_network(h)
        ]

    def check(self, source: str) -> CheckedSource:
        source = source.strip()
        if not source:
            raise ApiError(422, "source: empty", "source")
        if "://" in source or source.lower().startswith("file:"):
            return self.check_url(source)
        return self.check_file(source)

    def check_url(self, source: str) -> CheckedSource:
        parts = urlsplit(source)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise ApiError(
                422,
                f"source: scheme {scheme + ':'!r} is not allowed; streams are {', '.join(SCHEMES)} "
                "URLs or video files under serve.stream_dirs",
                "source",
            )
        host = (parts.hostname or "").lower()
        if not host:
            raise ApiError(422, f"source: {source!r} names no host", "source")
        if host not in self.hosts:
            for address in resolve(host, parts.port):
                self.check_address(host, address)
        return CheckedSource(source, NETWORK_OPTIONS)

    def check_address(self, host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address):
        if any(address in network for network in self.networks):
            return
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        refused = (
            "loopback (this server)"
            if address.is_loopback
            else "link-local (cloud metadata lives there)"
            if address.is_link_local
            else "unspecified"
            if address.is_unspecified
            else "multicast"
            if address.is_multicast
            else "reserved"
            if address.is_reserved
            else None
        )
        if refused:
            raise ApiError(
                422,
                f"source: host {host} is {address}, a {refused} address; add it to "
                "serve.allowed_hosts to allow it",
                "source",
            )

    def check_file(self, source: str) -> CheckedSource:
        if not self.dirs:
            raise ApiError(
                422,
                "source: files are not allowed (serve.stream_dirs is empty); give a URL",
                "source",
            )
        if ".." in PurePosixPath(source.replace("\\", "/")).parts:
            raise ApiError(422, "source: '..' is not allowed in a path", "source")
        given = Path(source)
        candidates = [given] if given.is_absolute() else [folder / given for folder in self.dirs]
        for candidate in candidates:
            path = candidate.resolve()
            inside = any(path.is_relative_to(folder) for folder in self.dirs)
            if inside and path.is_file():
                if path.suffix.lower() not in VIDEO_SUFFIXES:
                    raise ApiError(
                        422,
                        f"source: {path.name} is not a video file "
                        f"({' '.join(sorted(VIDEO_SUFFIXES))})",
                        "source",
                    )
                return CheckedSource(str(path), FILE_OPTIONS)
        raise ApiError(
            422, f"source: {source!r} is no video file under serve.stream_dirs", "source"
        )


def resolve(host: str, port: int | None) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        found = socket.getaddrinfo(host, port or 0, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise ApiError(422, f"source: host {host!r} does not resolve ({error})", "source") from None
    return [ipaddress.ip_address(entry[4][0].split("%")[0]) for entry in found]


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True
