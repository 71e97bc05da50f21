"""Running the app under uvicorn: who may listen where, timeouts, and a clean exit on SIGTERM."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

__all__ = ["check_exposure", "is_loopback", "make_server"]


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None, no_auth: bool) -> None:
    """Refuses to listen beyond loopback without an API key unless ``--no-auth`` says so on purpose.

    Example:
        >>> check_exposure("127.0.0.1", None, False)  # loopback: fine without a key
        >>> check_exposure("0.0.0.0", None, False)
        Traceback (most recent call last):
        ...
        ValueError: Listening on a public address needs an API key. Expected --api-key KEY (or the CNNKIT_API_KEY \
environment variable), or --no-auth to serve without one on purpose. Received: --host 0.0.0.0. Add --api-key or \
keep the default --host 127.0.0.1.
    """
    if is_loopback(host) or api_key or no_auth:
        return
    raise ValueError(
        "Listening on a public address needs an API key. Expected --api-key KEY (or the CNNKIT_API_KEY environment "
        f"variable), or --no-auth to serve without one on purpose. Received: --host {host}. Add --api-key or keep "
        "the default --host 127.0.0.1."
    )


def make_server(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    graceful_timeout: float = 30.0,
    keep_alive_timeout: float = 5.0,
    log_level: str = "warning",
    on_started: Callable[[str, int], None] | None = None,
) -> uvicorn.Server:
    """A uvicorn server for ``app`` (``server.run()`` blocks; SIGTERM and Ctrl-C stop accepting connections, let
    the requests in flight finish for up to ``graceful_timeout`` seconds, then return).

    ``on_started(host, port)`` is called once the socket listens (port 0 picks a free port).
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=int(keep_alive_timeout),
        timeout_graceful_shutdown=int(graceful_timeout),
        limit_concurrency=1024,  # beyond this, 503 at once rather than an unbounded queue of sockets
        server_header=False,
        proxy_headers=False,
        lifespan="on",
    )
    server = _Server(config)
    server.on_started = on_started
    return server


class _Server(uvicorn.Server):
    on_started: Callable[[str, int], None] | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            # uvicorn re-raises the signal once drained, so the process dies by it (exit -15); a drained SIGTERM is
            # a clean stop here: `cnnkit serve` prints "Stopped." and exits 0, as a supervisor expects.
            self._captured_signals.clear()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.on_started is not None and self.started:
            sock = self.servers[0].sockets[0]
            host, port = sock.getsockname()[:2]
            self.on_started(host, port)
