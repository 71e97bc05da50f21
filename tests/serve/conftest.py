import pytest

from cnnkit.serve import create_app
from support.serving import Live, write_run


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory):
    return write_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def live(run_dir):
    server = Live(create_app(run_dir, max_body_bytes=1_000_000, read_timeout=1.0, max_wait_ms=20))
    yield server
    server.stop()
