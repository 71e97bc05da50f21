import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _fresh_names():
    """Each test starts with Keras-like automatic names from zero, as after keras.backend.clear_session()."""
    from cnnkit.common.naming import clear_session

    clear_session()
    yield
