"""The HTTP edge of the app: JSON errors, reading a bounded body, the API key and the request metrics."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator

from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cnnkit.serve.metrics import ServerMetrics

__all__ = ["ApiError", "MetricsAndAuth", "error_response", "read_body", "read_images"]


class ApiError(Exception):
    """An error the client can fix: answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.message, self.close = status, message, close


def error_response(status: int, message: str, close: bool = False, headers: dict | None = None) -> JSONResponse:
    headers = {"Cache-Control": "no-store", **(headers or {})}
    if close:  # the rest of the body is unread: the connection cannot carry another request
        headers["Connection"] = "close"
    return JSONResponse({"error": message}, status_code=status, headers=headers)


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes (before it is all in memory) and
    with 408 when the client sends nothing for ``timeout`` seconds."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, f"Invalid Content-Length. Expected a byte count. Received: {declared!r}.", True)
        if int(declared) > limit:
            raise ApiError(413, _too_large(limit, f"Content-Length {declared}"), True)
    body = bytearray()
    chunks = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), timeout)
        except StopAsyncIteration:
            break
        except asyncio.TimeoutError:
            raise ApiError(
                408,
                f"The request body stalled. Expected the upload to continue within {timeout:g} s. "
                f"Received: {len(body)} bytes, then nothing. Retry on a steadier connection.",
                True,
            ) from None
        body += chunk
        if len(body) > limit:
            raise ApiError(413, _too_large(limit, f"more than {limit} bytes"), True)
    return bytes(body)


def _too_large(limit: int, received: str) -> str:
    return (
        f"The request body is too large. Expected at most {limit} bytes ({limit / 2**20:.3g} MiB). "
        f"Received: {received}. Send a smaller image or start the server with a larger --max-body-mb."
    )


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def read_images(request: Request, limit: int, timeout: float, max_files: int) -> list[tuple[str, bytes]]:
    """``[(filename, bytes)]``: the raw body as one image, or every ``file`` field of a multipart form."""
    body = await read_body(request, limit, timeout)
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        if not body:
            raise ApiError(
                400,
                "The request has no image. Expected an image file as the body or multipart `file` fields. "
                "Received: an empty body. Send e.g. `curl --data-binary @photo.jpg URL`.",
            )
        return [("body", body)]
    parser = MultiPartParser(Headers(raw=request.headers.raw), _once(body), max_files=max_files, max_fields=max_files)
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise ApiError(400, f"Invalid multipart form: {e}. Expected `file` fields holding images.") from None
    try:
        files = [v for v in form.getlist("file") if isinstance(v, UploadFile)]
        if not files:
            raise ApiError(
                400,
                "The form has no image. Expected one or more `file` fields holding images. "
                f"Received: fields {sorted(set(form.keys()))}. Name the upload field `file`.",
            )
        return [(f.filename or f"file{i}", await f.read()) for i, f in enumerate(files)]
    finally:
        await form.close()


def _route_path(scope: Scope) -> str:
    path, root = scope.get("path", "/"), scope.get("root_path", "")
    return path[len(root) :] or "/" if root and path.startswith(root) else path


class MetricsAndAuth:
    """ASGI middleware: checks the API key on the API routes and counts every request by route and status."""

    def __init__(
        self, app: ASGIApp, metrics: ServerMetrics, routes: set[str], protected: set[str], api_key: str | None
    ) -> None:
        self.app, self.metrics, self.routes, self.protected = app, metrics, routes, protected
        self.key = api_key.encode() if api_key else None

    def _authorized(self, headers: Headers) -> bool:
        given = headers.get("x-api-key") or ""
        auth = headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        # Constant time, so response timing does not leak how much of a guess was right.
        return hmac.compare_digest(given.encode(), self.key or b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _route_path(scope)
        route = path if path in self.routes else "other"  # unknown paths share a label: no unbounded series
        started, status = time.perf_counter(), [500]

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        self.metrics.in_flight += 1
        try:
            if self.key is not None and path in self.protected and scope["method"] != "OPTIONS":
                if not self._authorized(Headers(scope=scope)):
                    msg = (
                        "Missing or wrong API key. Expected the server's key in an `Authorization: Bearer KEY` or "
                        "`X-API-Key: KEY` header. Received: " + ("a wrong key." if _has_key(scope) else "no key.")
                    )
                    await error_response(401, msg, headers={"WWW-Authenticate": "Bearer"})(
                        scope, receive, send_recording
                    )
                    return
            await self.app(scope, receive, send_recording)
        finally:
            self.metrics.in_flight -= 1
            self.metrics.observe_request(route, scope["method"], status[0], time.perf_counter() - started)


def _has_key(scope: Scope) -> bool:
    h = Headers(scope=scope)
    return bool(h.get("x-api-key") or h.get("authorization"))
