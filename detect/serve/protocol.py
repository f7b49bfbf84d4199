"""uvicorn's HTTP/1.1 protocol (h11) with the timeouts a server facing a network needs.

uvicorn closes a kept-alive connection that sends nothing for ``timeout_keep_alive`` s, but
has no clock on a request being received: a client may send its headers one byte a minute
(slowloris) or its body at 1 KB/s, holding a connection and its buffers for as long as it
likes; and after a refused body (413) uvicorn resumes reading it to the end. This protocol
adds, per connection: ``header_timeout_s`` from the first byte of a request (or the
connection's opening) to the end of its headers; ``body_timeout_s`` for the whole body; and
after a response sent while the body is still coming, reading stops and the connection closes
``REFUSED_GRACE_S`` later (time for the client to read the answer; closing at once would reset
it before it can). Why a subclass and not another server: uvicorn stays the server FastAPI
documents, its worker supervisor and graceful shutdown stay ours, and the three timers are
the whole difference (granian or hypercorn would replace all of it for the same three).

The timeouts ride on uvicorn's ``Config`` (``header_timeout_s``, ``body_timeout_s``
attributes, see :func:`guarded_config`), which uvicorn hands to every protocol instance and
pickles into its worker processes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 60.0
REFUSED_GRACE_S = 1.0


class GuardedH11Protocol(H11Protocol):
    """H11Protocol with header, body and refused-body clocks (see the module's docstring)."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout_s = getattr(config, "header_timeout_s", HEADER_TIMEOUT_S)
        self.body_timeout_s = getattr(config, "body_timeout_s", BODY_TIMEOUT_S)
        self.clock: asyncio.TimerHandle | None = None
        self.clock_for: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.start_clock("headers", self.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            # answered before the body was read (a 413): read no more of it
            self.transport.pause_reading()
            self.stop_clock()
            self.loop.call_later(REFUSED_GRACE_S, self.transport.close)
            return
        self.follow()

    def follow(self) -> None:
        """The clock for what the connection is receiving now."""
        if self.transport.is_closing():
            self.stop_clock()
            return
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.trailing_data[0]:  # a request's first bytes
            self.start_clock("headers", self.header_timeout_s)
        elif state is h11.SEND_BODY:
            self.start_clock("body", self.body_timeout_s)
        elif state is not h11.IDLE:
            self.stop_clock()

    def start_clock(self, what: str, seconds: float) -> None:
        if self.clock_for == what:
            return
        self.stop_clock()
        self.clock = self.loop.call_later(seconds, self.expired)
        self.clock_for = what

    def stop_clock(self) -> None:
        if self.clock is not None:
            self.clock.cancel()
        self.clock, self.clock_for = None, None

    def expired(self) -> None:
        """Headers or body not received in time: the connection is closed (a request being
        handled sees the client gone)."""
        what = self.clock_for
        self.clock, self.clock_for = None, None
        if not self.transport.is_closing():
            self.logger.info("closing a connection: its %s took too long", what)
            self.transport.close()


def guarded_config(app: Any, header_timeout_s: float, body_timeout_s: float, **options: Any):
    """uvicorn's Config running :class:`GuardedH11Protocol` with these timeouts."""
    config = uvicorn.Config(app, http=GuardedH11Protocol, **options)
    config.header_timeout_s = header_timeout_s  # type: ignore[attr-defined]
    config.body_timeout_s = body_timeout_s  # type: ignore[attr-defined]
    return config
