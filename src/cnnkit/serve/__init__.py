"""Serve a trained classifier: a web page and a JSON API on uvicorn (`cnnkit serve MODEL`; needs `cnnkit[serve]`)."""

from cnnkit.serve.app import MAX_BODY_BYTES, create_app
from cnnkit.serve.batching import MicroBatcher
from cnnkit.serve.metrics import ServerMetrics
from cnnkit.serve.predictor import Predictor
from cnnkit.serve.server import check_exposure, make_server

__all__ = [
    "MAX_BODY_BYTES",
    "MicroBatcher",
    "Predictor",
    "ServerMetrics",
    "check_exposure",
    "create_app",
    "make_server",
]
