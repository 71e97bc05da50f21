import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import _standins  # noqa: E402  (tests/training is on sys.path via pytest's rootdir conftest handling)

_standins.install()
