"""A small JSON web service for a trained classifier: a WSGI app, no globals, no extra dependencies.

Routes: ``GET /health``, ``GET /info`` (classes, input shape), ``POST /predict?top_k=K`` with the image file as the
request body (``curl --data-binary @photo.jpg http://127.0.0.1:8000/predict``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cnnkit.serve.predictor import Predictor

__all__ = ["create_app", "make_app_server", "MAX_BODY_BYTES"]

MAX_BODY_BYTES = 20 * 1024 * 1024

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large"}


def _json(start_response: Callable, status: int, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        f"{status} {_REASONS[status]}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")],
    )
    return [body]


def create_app(predictor: Predictor, max_body_bytes: int = MAX_BODY_BYTES) -> Callable[..., Iterable[bytes]]:
    """A WSGI application serving ``predictor`` (state lives in the closure: several apps can coexist)."""

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", "/"), environ.get("REQUEST_METHOD", "GET")
        routes = {"/health": "GET", "/info": "GET", "/predict": "POST"}
        if path not in routes:
            return _json(start_response, 404, {"error": f"Unknown path {path!r}. Expected one of {sorted(routes)}."})
        if method != routes[path]:
            return _json(start_response, 405, {"error": f"{path} takes {routes[path]}. Received: {method}."})
        if path == "/health":
            return _json(start_response, 200, {"status": "ok"})
        if path == "/info":
            return _json(start_response, 200, predictor.info())
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length <= 0:
            return _json(start_response, 400, {"error": "Expected the image file as the request body. Received: none."})
        if length > max_body_bytes:
            msg = f"The image is too large. Expected at most {max_body_bytes} bytes. Received: {length} bytes."
            return _json(start_response, 413, {"error": msg})
        query = parse_qs(environ.get("QUERY_STRING", ""))
        try:
            top_k = int(query.get("top_k", ["1"])[0])
            if top_k < 1:
                raise ValueError
        except ValueError:
            return _json(start_response, 400, {"error": f"top_k must be a positive integer. Received: {query}."})
        data = environ["wsgi.input"].read(length)
        try:
            return _json(start_response, 200, predictor.predict(data, top_k=top_k))
        except ValueError as e:
            return _json(start_response, 400, {"error": str(e)})

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
        pass


def make_app_server(predictor: Predictor, host: str = "127.0.0.1", port: int = 8000, quiet: bool = False) -> WSGIServer:
    """A stdlib HTTP server for the app (``serve_forever()`` to run; port 0 picks a free port)."""
    handler = _QuietHandler if quiet else WSGIRequestHandler
    return make_server(host, port, create_app(predictor), handler_class=handler)
