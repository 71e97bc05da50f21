"""`cnnkit serve MODEL`: a web page and a JSON API that classify the images they are sent, and show why."""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
from typing import Any

from cnnkit.cli._format import command_parser

EXAMPLES = """\
  cnnkit serve runs/flowers                        # then open http://127.0.0.1:8000/
  curl --data-binary @photo.jpg 'http://127.0.0.1:8000/predict?top_k=3'
  curl -F file=@a.jpg -F file=@b.jpg http://127.0.0.1:8000/predict
  curl --data-binary @photo.jpg http://127.0.0.1:8000/explain -o gradcam.png
  cnnkit serve runs/flowers --host 0.0.0.0 --api-key "$KEY"   # reachable from other machines

Listens on 127.0.0.1 unless --host says otherwise; another address needs --api-key (or CNNKIT_API_KEY) or --no-auth.
API docs at /docs, Prometheus metrics at /metrics. Needs the serve extra: pip install 'cnnkit[serve]'.
"""

SERVE_MODULES = ("fastapi", "starlette", "uvicorn", "multipart")


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "serve", parents, "serve a trained model: web page + JSON API", __doc__, EXAMPLES)
    p.add_argument("model", metavar="MODEL", help="a run folder of `cnnkit train` (or a .cnnkit model file)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--api-key", default=None, help="require this key on API routes (default: $CNNKIT_API_KEY)")
    p.add_argument("--no-auth", action="store_true", help="serve a public --host without an API key, on purpose")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN", help="allow browser calls from it")
    p.add_argument("--max-body-mb", type=float, default=20.0, help="largest request body in MiB (default 20)")
    p.add_argument("--max-batch", type=int, default=32, help="most images per forward pass (default 32)")
    p.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a batch waits for company (default 5)")
    p.add_argument("--read-timeout", type=float, default=10.0, help="seconds a stalled upload may pause (default 10)")
    return p


def _check_port_free(host: str, port: int) -> None:
    """A busy port is a user's to fix: say so (exit 2) before loading the model, instead of the server's own exit."""
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # the server reports an unknown host itself
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is not busy
        try:
            probe.bind(address)
        except OSError as e:
            raise ValueError(
                f"Cannot listen on {host}:{port} ({e.strerror or e}). Expected a free port on an address of this "
                f"machine. Received: --host {host} --port {port}. Stop the program using it or choose another --port "
                "(0 picks a free one)."
            ) from None


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise ValueError(
            f"--port is out of range. Expected 0 to 65535 (0 picks a free port). Received: --port {args.port}. "
            "Pass e.g. --port 8000."
        )
    _check_port_free(args.host, args.port)
    missing = [m for m in SERVE_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"Serving needs the serve extra. Expected {', '.join(missing)} to be installed. "
            "Received: cnnkit without it. Run: pip install 'cnnkit[serve]'."
        )
    # Imported here, not at the top: the other commands must work without the serve extra installed.
    from cnnkit.serve import check_exposure, create_app, make_server

    api_key = args.api_key or os.environ.get("CNNKIT_API_KEY") or None
    check_exposure(args.host, api_key, args.no_auth)
    app = create_app(
        args.model,
        api_key=api_key,
        cors_origins=args.cors_origin,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        read_timeout=args.read_timeout,
        max_batch_size=args.max_batch,
        max_wait_ms=args.max_wait_ms,
    )

    def started(host: str, port: int) -> None:
        auth = "API key required" if api_key else "no API key"
        print(f"Serving {args.model} on http://{host}:{port}/ ({auth}; docs at /docs). Ctrl-C stops.", flush=True)

    make_server(app, args.host, args.port, on_started=started).run()
    print("Stopped.")
    sys.stdout.flush()
    return 0
