"""Which ``Host`` a request may name (DNS rebinding): shared by ``detect serve`` and
``detect serve-web``, standard library only.

A web page the user visits can make its browser send requests to 127.0.0.1 under the page's own
name (a DNS answer that changes to 127.0.0.1 after the page loads): the request then carries
``Host: attacker.example``. Answering only the names this server is known by (loopback names
by default, ``serve.trusted_hosts`` for a server others reach) leaves such a page nothing
(421 Misdirected Request).
"""

from __future__ import annotations

from collections.abc import Iterable

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARDS = ("0.0.0.0", "::", "")  # listening on every interface: the name is not known
ANY = "*"


def default_names(listen_host: str) -> tuple[str, ...]:
    """The loopback names, and the listening address when it is a specific one."""
    extra = () if listen_host in WILDCARDS or listen_host in LOOPBACK_NAMES else (listen_host,)
    return (*LOOPBACK_NAMES, *extra)


def host_name(header: str | None) -> str | None:
    """``Host``'s name without the port, lower-cased (``[::1]:8000`` → ``::1``)."""
    if header is None:
        return None
    header = header.strip().lower()
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def host_allowed(header: str | None, names: Iterable[str]) -> bool:
    """A request without ``Host`` (HTTP/1.0: no browser sends one) or naming a trusted name;
    ``*`` trusts every name, ``*.example.com`` a domain's names."""
    name = host_name(header)
    if name is None:
        return True
    for trusted in names:
        trusted = trusted.lower().strip("[]")
        if trusted == ANY or name == trusted:
            return True
        if trusted.startswith("*.") and name.endswith(trusted[1:]):
            return True
    return False


MISDIRECTED = (
    "this server does not answer to Host {name!r} (a web page rebinding its name to this "
    "server would send it): add the name to serve.trusted_hosts if clients use it"
)
