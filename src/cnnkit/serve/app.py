"""The web app: the page at ``/``, a JSON API, Prometheus metrics and OpenAPI docs, built by :func:`create_app`.

Routes: ``GET /`` (the page), ``POST /predict`` (a raw image body or multipart ``file`` fields), ``POST /explain``
(the Grad-CAM overlay as PNG), ``GET /info`` (the model card), ``GET /health``, ``GET /metrics`` and ``/docs``.
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from cnnkit._version import __version__
from cnnkit.pipeline import Classifier
from cnnkit.serve.batching import MicroBatcher
from cnnkit.serve.http import ApiError, MetricsAndAuth, error_response, read_images
from cnnkit.serve.metrics import ServerMetrics
from cnnkit.serve.predictor import DEFAULT_MAX_PIXELS, Predictor

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 20 * 1024 * 1024
API_ROUTES = {"/predict", "/explain", "/info", "/metrics"}  # what the API key guards; the page and /health are open
# The page is self-contained: it may talk to its own server only (no CDN, no fonts, no analytics).
PAGE_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
_IMAGE_BODY = {
    "content": {
        "image/*": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
            }
        },
    },
    "required": True,
}


def _predictor(source: Any, class_names: list[str] | None, max_pixels: int) -> Predictor:
    if isinstance(source, Predictor):
        return source
    if isinstance(source, Classifier):
        return Predictor(source, max_pixels=max_pixels)
    if isinstance(source, (str, os.PathLike)):
        return Predictor.from_path(source, max_pixels=max_pixels)
    return Predictor.from_model(source, class_names, max_pixels=max_pixels)


def create_app(
    model_or_run_folder: Any,
    *,
    class_names: list[str] | None = None,
    api_key: str | None = None,
    cors_origins: list[str] | tuple[str, ...] = (),
    max_body_bytes: int = MAX_BODY_BYTES,
    read_timeout: float = 10.0,
    max_batch_size: int = 32,
    max_wait_ms: float = 5.0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_files: int = 64,
    top_k: int = 5,
) -> FastAPI:
    """A FastAPI app serving one classifier; all its state lives in the app, so several can coexist or be mounted.

    Args:
        model_or_run_folder: a run folder of `cnnkit train`, a ``.cnnkit`` file, a loaded model, a
            :class:`~cnnkit.pipeline.Classifier` or a :class:`Predictor`.
        class_names: the class names of an in-memory model (a run folder has its own).
        api_key: when set, every API route requires it (``Authorization: Bearer KEY`` or ``X-API-Key``).
        cors_origins: origins allowed to call the API from a browser; none by default.
        max_body_bytes: request bodies above this are refused with 413 while they stream in.
        read_timeout: seconds a client may pause mid-upload before it gets 408.
        max_batch_size: most images in one forward pass of the micro-batcher.
        max_wait_ms: how long a batch waits for more requests.
        max_pixels: larger images are refused as possible decompression bombs (400).
        max_files: most ``file`` fields in one multipart request.
        top_k: how many classes ``/predict`` returns unless ``?top_k=`` says otherwise.

    Example:
        >>> from fastapi import FastAPI  # doctest: +SKIP
        >>> site = FastAPI()  # doctest: +SKIP
        >>> site.mount("/flowers", create_app("runs/flowers"))  # doctest: +SKIP
    """
    predictor = _predictor(model_or_run_folder, class_names, max_pixels)
    metrics = ServerMetrics()
    batcher = MicroBatcher(predictor.predict_batch, max_batch_size, max_wait_ms, on_batch=metrics.observe_batch)
    decoders = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="cnnkit-decode")
    default_top_k = top_k
    html = resources.files("cnnkit.serve").joinpath("page.html").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202 - FastAPI's lifespan protocol
        yield
        await batcher.aclose()
        decoders.shutdown(wait=False)

    app = FastAPI(
        title=f"cnnkit: {predictor.info()['model']}",
        version=__version__,
        description="Classify images with a cnnkit model and see why (Grad-CAM).",
        lifespan=lifespan,
    )
    app.state.predictor, app.state.metrics, app.state.batcher = predictor, metrics, batcher

    async def decode(data: bytes) -> Any:
        return await asyncio.get_running_loop().run_in_executor(decoders, predictor.decode, data)

    async def predict_one(name: str, data: bytes, k: int) -> dict[str, Any]:
        try:
            x = await decode(data)
        except ValueError as e:
            return {"filename": name, "error": str(e)}
        return {"filename": name, **predictor.top_k(await batcher.predict(x), k)}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"})

    @app.get("/health", summary="Liveness: 200 while the server runs")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/info", summary="The model card: classes, input size, validation accuracy, date")
    async def info() -> dict[str, Any]:
        return {**predictor.info(), "max_body_bytes": max_body_bytes, "top_k": default_top_k}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (text format 0.0.4)")
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post(
        "/predict",
        summary="Top-k classes of one image (raw body) or of each multipart `file` field",
        openapi_extra={"requestBody": _IMAGE_BODY},
    )
    async def predict(request: Request, top_k: int = default_top_k) -> JSONResponse:
        if top_k < 1:
            raise ApiError(400, f"top_k must be a positive integer. Expected top_k >= 1. Received: top_k={top_k}.")
        files = await read_images(request, max_body_bytes, read_timeout, max_files)
        results = await asyncio.gather(*(predict_one(name, data, top_k) for name, data in files))
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            if "error" in results[0]:
                raise ApiError(400, results[0]["error"])
            return JSONResponse({k: v for k, v in results[0].items() if k != "filename"})
        if all("error" in r for r in results):  # nothing usable: a client error, even though each item says why
            raise ApiError(400, "; ".join(f"{r['filename']}: {r['error']}" for r in results))
        return JSONResponse({"results": results})

    @app.post(
        "/explain",
        summary="Grad-CAM overlay (PNG) of one image, for the predicted class or ?class=NAME",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}},
        openapi_extra={"requestBody": _IMAGE_BODY},
    )
    async def explain(request: Request) -> Response:
        files = await read_images(request, max_body_bytes, read_timeout, 1)
        name = request.query_params.get("class")
        try:
            cls = predictor.class_index(name) if name is not None else None
            await decode(files[0][1])  # the bomb check and decoding errors, off the model thread
            png, label, prob = await batcher.run_exclusive(predictor.explain_png, files[0][1], cls)
        except ValueError as e:
            raise ApiError(400, str(e)) from None
        headers = {"X-Cnnkit-Class": label, "X-Cnnkit-Probability": f"{prob:.6f}", "Cache-Control": "no-store"}
        return Response(png, media_type="image/png", headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.close)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        path, method = request.url.path, request.method
        if exc.status_code == 404:
            msg = f"Unknown path. Expected one of {sorted(API_ROUTES | {'/', '/health', '/docs'})}. Received: {path}."
        elif exc.status_code == 405:
            msg = f"Wrong method for {path}. Expected {exc.headers.get('Allow') if exc.headers else '?'}. " + (
                f"Received: {method}."
            )
        else:
            msg = str(exc.detail)
        return error_response(exc.status_code, msg, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_params(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in exc.errors()]
        return error_response(400, f"Invalid query parameters. {'; '.join(parts)}. Received: {request.url.query}.")

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        # Never a traceback to the client; the server's log has it (uvicorn logs unhandled errors).
        return error_response(500, f"Internal error ({type(exc).__name__}). The server's log has the details.")

    app.add_middleware(
        MetricsAndAuth,
        metrics=metrics,
        routes=API_ROUTES | {"/", "/health", "/docs", "/openapi.json"},
        protected=API_ROUTES,
        api_key=api_key,
    )
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["X-Cnnkit-Class", "X-Cnnkit-Probability"],
        )
    return app
