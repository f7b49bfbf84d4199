"""What keeps a listening server safe: the API key, and the stream sources it may open.

Streams read what the *server* can reach, so a source is a request forgery waiting to happen.
Allowed: ``rtsp``/``rtsps``/``rtmp``/``rtmps``/``http``/``https`` URLs whose host resolves to
no loopback, link-local (169.254.0.0/16 — cloud metadata — fe80::/10), unspecified, multicast
or reserved address, unless ``serve.allowed_hosts`` names the host or a network holding it
(``serve.only_allowed_hosts``: nothing else, public hosts included); and video files under
``serve.stream_dirs`` given by a path without ``..`` that resolves (links followed) inside one
of them. Everything else — ``file:``, other schemes, webcams, other paths — is refused (422).

The check covers every connection FFmpeg makes, not only the URL typed:

- *One parser.* The URL is split once, here, strictly (no backslash, whitespace, control
  character or second ``@``; a port in 1..65535); FFmpeg is then given a URL *rebuilt* from
  those parts, so a URL that FFmpeg would split otherwise (``http://127.0.0.1\\@host/``)
  never reaches it.
- *Resolve once, connect to what was checked.* The host is resolved here, every address it
  gives is checked, and the rebuilt URL names the checked address itself (the name kept for
  HTTP's ``Host`` header and TLS's SNI): FFmpeg never resolves the name again, so DNS that
  changes its answer after the check (rebinding) reaches nothing new.
- *No redirects.* FFmpeg's HTTP client is held to ``max_redirects=0``: a 3xx fails the open
  (422) instead of being followed to a host nobody checked (``Location: //host/`` too).
- *A probe first.* ``http``/``rtsp`` sources must send a status line to a plain request of
  ours within ``serve.stream_timeout_s`` before FFmpeg opens them (OpenCV opens FFmpeg
  captures one at a time per process: a source that accepts and stays silent would hold
  every other open); a redirect is refused there by name.
- *No playlists.* HLS, DASH, concat, SDP and the other demuxers that open further URLs are
  outside ``format_whitelist``, and FFmpeg's protocols are held to those of the source's kind
  (``protocol_whitelist``: no ``udp``/``rtp``, which an SDP could aim anywhere; no
  ``file``/``crypto``): a playlist's segments are never fetched, refused or not.

Why these FFmpeg options rather than fetching HTTP ourselves: OpenCV's capture takes a URL, and
a relay of our own would have to re-implement range requests (seekable files), chunked
streams and MJPEG for FFmpeg to read through a pipe; FFmpeg's own switches (set per open
through ``OPENCV_FFMPEG_CAPTURE_OPTIONS``) close the same doors. Not covered: an RTSP server's
own ``3xx`` redirect (FFmpeg's RTSP client follows it and has no switch), so RTSP cameras
belong on a network ``serve.allowed_hosts`` names, with ``serve.only_allowed_hosts`` on.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import SplitResult, urlsplit, urlunsplit

from detect.inference.sources import VIDEO_SUFFIXES
from detect.serve.problems import ApiError

SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443, "rtsp": 554, "rtsps": 322, "rtmp": 1935, "rtmps": 443}
NETWORK_PROTOCOLS = "http,https,tcp,tls,rtsp,rtsps,rtmp,rtmps"
FILE_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg,flv,asf,h264,hevc,mjpeg"
NETWORK_FORMATS = f"{FILE_FORMATS},mpjpeg,rtsp"  # no hls, dash, concat, sdp, rtp
NETWORK_OPTIONS = (
    f"protocol_whitelist;{NETWORK_PROTOCOLS}|format_whitelist;{NETWORK_FORMATS}"
    "|rtsp_transport;tcp|max_redirects;0"
)
FILE_OPTIONS = f"protocol_whitelist;file|format_whitelist;{FILE_FORMATS}"
UNSAFE_URL = re.compile(r"[\\\s\x00-\x1f\x7f]")  # backslash, whitespace, control characters
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def authorized(header: bytes | None, key: str) -> bool:
    """``Authorization: Bearer <key>`` (the scheme in any case, RFC 9110), compared in
    constant time as bytes: a key outside ASCII is sent as its UTF-8 bytes."""
    if not header:
        return False
    scheme, _, given = header.strip().partition(b" ")
    if scheme.lower() != b"bearer":
        return False
    return hmac.compare_digest(given.strip(), key.encode("utf-8"))


# no data: health and readiness (probes send no key), the page, the API docs
PUBLIC = ("/healthz", "/readyz", "/", "/docs", "/openapi.json")
MEDIA_ROUTE = re.compile(r"/v1/streams/[^/]+/(events|video\.mjpg)")


def is_public(path: str) -> bool:
    return path in PUBLIC or path.startswith(("/static/", "/docs-assets/"))


@dataclass(frozen=True)
class CheckedSource:
    """A source the server may open: what to open, and FFmpeg's options for it."""

    spec: str
    ffmpeg_options: str
    name: str = ""  # what the user gave (``spec`` may name the checked address instead)
    host_header: str | None = None  # the name the request carries (a pinned URL's)

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.spec)


class SourcePolicy:
    """The allow-list of stream sources (see the module's docstring)."""

    def __init__(
        self,
        stream_dirs: Sequence[str],
        allowed_hosts: Sequence[str],
        only_allowed: bool = False,
    ) -> None:
        self.dirs = [Path(folder).resolve() for folder in stream_dirs]
        self.only_allowed = only_allowed
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
        """The URL split once, its host resolved once and checked, and the URL FFmpeg gets
        rebuilt from those parts around the checked address (see the module's docstring)."""
        if UNSAFE_URL.search(source):
            raise ApiError(
                422,
                "source: a URL may not hold a backslash, whitespace or control character",
                "source",
            )
        try:
            parts = urlsplit(source)
        except ValueError as error:  # "http://[::1/"
            raise ApiError(422, f"source: {source!r} is not a URL ({error})", "source") from None
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise ApiError(
                422,
                f"source: scheme {scheme + ':'!r} is not allowed; streams are {', '.join(SCHEMES)} "
                "URLs or video files under serve.stream_dirs",
                "source",
            )
        try:
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            raise ApiError(
                422, f"source: {source!r} has no valid host and port (1..65535)", "source"
            ) from None
        if not host:
            raise ApiError(422, f"source: {source!r} names no host", "source")
        if parts.netloc.count("@") > 1 or port == 0:
            raise ApiError(422, f"source: {source!r} has no valid host and port", "source")
        if host in self.hosts:  # named by the operator: FFmpeg resolves it as configured
            return CheckedSource(source, NETWORK_OPTIONS)
        addresses = resolve(host, port)
        for address in addresses:
            self.check_address(host, address)
        named = f"[{host}]" if ":" in host else host
        authority = named if port is None else f"{named}:{port}"
        return CheckedSource(
            pinned_url(parts, scheme, addresses[0], port),
            pinned_options(scheme, authority, host),
            source,
            authority,
        )

    def check_address(self, host: str, address: Address) -> None:
        if any(address in network for network in self.networks):
            return
        if self.only_allowed:
            raise ApiError(
                422,
                f"source: host {host} ({address}) is not in serve.allowed_hosts, and "
                "serve.only_allowed_hosts is on",
                "source",
            )
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


def resolve(host: str, port: int | None) -> list[Address]:
    try:
        found = socket.getaddrinfo(host, port or 0, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as error:
        raise ApiError(422, f"source: host {host!r} does not resolve ({error})", "source") from None
    addresses = [ipaddress.ip_address(entry[4][0].split("%")[0]) for entry in found]
    if not addresses:
        raise ApiError(422, f"source: host {host!r} does not resolve", "source")
    return addresses


def pinned_url(parts: SplitResult, scheme: str, address: Address, port: int | None) -> str:
    """The URL FFmpeg opens: our parse of it, with the checked address for the host."""
    literal = f"[{address}]" if address.version == 6 else str(address)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@" if userinfo else ""
    netloc += f"{literal}:{port or DEFAULT_PORTS[scheme]}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def pinned_options(scheme: str, authority: str, host: str) -> str:
    """FFmpeg's options for a pinned URL: the name for HTTP's Host header and TLS's SNI. A host
    given as an address needs neither, and shares the common options (opens with equal
    options run at once: see :func:`detect.inference.sources.capture_options`)."""
    if _is_network(host):
        return NETWORK_OPTIONS
    options = NETWORK_OPTIONS
    if scheme in ("http", "https"):
        options += f"|headers;Host: {authority}\r\n"
    if scheme in ("https", "rtsps", "rtmps"):
        options += f"|verifyhost;{host}"
    return options


def _is_network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


PROBES = {  # the first line a server of each kind answers with
    "http": (
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: detect\r\nConnection: close\r\n\r\n"
    ),
    "rtsp": "OPTIONS {url} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: detect\r\n\r\n",
}


def probe(checked: CheckedSource, timeout_s: float) -> None:
    """The source answers at all within ``timeout_s`` (its status line), checked with a plain
    socket before FFmpeg opens it: OpenCV opens FFmpeg captures one at a time process-wide, so
    a source that accepts and never answers would otherwise hold every other open for
    ``timeout_s``. An HTTP redirect is refused here, by name. Plain ``http`` and ``rtsp``
    only (TLS and RTMP go to FFmpeg as they are)."""
    parts = urlsplit(checked.spec)
    scheme = parts.scheme
    if scheme not in PROBES:
        return
    host = checked.host_header or parts.netloc.rpartition("@")[2]
    request = PROBES[scheme].format(
        path=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        host=host,
        url=checked.spec,
    )
    address = (parts.hostname or "", parts.port or DEFAULT_PORTS[scheme])
    try:
        with socket.create_connection(address, timeout=timeout_s) as connection:
            connection.settimeout(timeout_s)
            connection.sendall(request.encode("latin-1"))
            first = connection.recv(64)
    except OSError as error:
        raise ApiError(
            422, f"source: {checked.name} does not answer ({error or 'timed out'})", "source"
        ) from None
    status = first.split(b" ", 2)
    if not first:
        raise ApiError(422, f"source: {checked.name} closed without answering", "source")
    if scheme == "http" and len(status) > 1 and status[1][:1] == b"3":
        raise ApiError(
            422,
            f"source: {checked.name} redirects (HTTP {status[1].decode('latin-1')}); redirects "
            "are not followed: give the final URL",
            "source",
        )
