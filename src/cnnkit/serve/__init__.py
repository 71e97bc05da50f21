"""Serve a trained classifier over HTTP (a WSGI app; `cnnkit serve MODEL`)."""

from cnnkit.serve.app import create_app, make_app_server
from cnnkit.serve.predictor import Predictor

__all__ = ["Predictor", "create_app", "make_app_server"]
