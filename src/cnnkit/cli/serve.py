"""`cnnkit serve MODEL`: a JSON web service that classifies the images it is sent."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from cnnkit.cli._format import command_parser
from cnnkit.serve import Predictor, make_app_server

EXAMPLES = """\
  cnnkit serve runs/flowers --port 8000
  curl --data-binary @photo.jpg 'http://127.0.0.1:8000/predict?top_k=3'
  curl http://127.0.0.1:8000/info

Listens on 127.0.0.1 unless --host says otherwise (it has no authentication: keep it behind a proxy).
"""


def add_parser(sub: Any, parents: list) -> argparse.ArgumentParser:
    p = command_parser(sub, "serve", parents, "serve a trained model over HTTP", __doc__, EXAMPLES)
    p.add_argument("model", metavar="MODEL", help="a .cnnkit model file (or the run folder holding model.cnnkit)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    return p


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise ValueError(
            f"--port is out of range. Expected 0 to 65535 (0 picks a free port). Received: --port {args.port}. "
            "Pass e.g. --port 8000."
        )
    predictor = Predictor.from_path(args.model)
    try:
        server = make_app_server(predictor, args.host, args.port)
    except OSError as e:
        raise ValueError(
            f"Cannot listen on {args.host}:{args.port} ({e.strerror or e}). Expected a free port on an address of "
            f"this machine. Received: --host {args.host} --port {args.port}. Stop the program using it or choose "
            "another --port (0 picks a free one)."
        ) from None
    host, port = server.server_address[:2]
    # Requests are served in a thread; the main thread only waits for Ctrl-C or SIGTERM (`kill`, `docker stop`),
    # so that a signal never lands in the middle of a request, and then shuts the server down cleanly.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="cnnkit-serve", daemon=True)
    thread.start()
    print(f"Serving {args.model} on http://{host}:{port} (POST /predict, GET /info, GET /health). Ctrl-C stops.")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    print("Stopped.")
    return 0
