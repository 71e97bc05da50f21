"""Dynamic micro-batching: concurrent requests share forward passes, within the bounds."""

import asyncio
import re
import threading

import httpx
import numpy as np
import pytest

from cnnkit.serve import MicroBatcher, create_app
from support.serving import Live, png


def test_concurrent_http_requests_are_merged_and_the_metric_says_so(run_dir):
    app = create_app(run_dir, max_batch_size=8, max_wait_ms=100)
    live = Live(app)
    colours = [(250, 0, 0), (0, 250, 0), (0, 0, 250)] * 8  # 24 requests
    answers: dict[int, str] = {}
    gate = threading.Barrier(len(colours))

    def one(i: int) -> None:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            data = png(colours[i])
            gate.wait()
            answers[i] = c.post("/predict", content=data).json()["class"]

    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(colours))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        text = httpx.get(f"{live.url}/metrics").text
    finally:
        live.stop()
    assert answers == {i: ["red", "green", "blue"][i % 3] for i in range(len(colours))}  # each got its own row
    count = int(re.search(r"^cnnkit_batch_size_count (\d+)$", text, re.M).group(1))
    total = float(re.search(r"^cnnkit_batch_size_sum (\S+)$", text, re.M).group(1))
    singles = int(re.search(r'^cnnkit_batch_size_bucket\{le="1"\} (\d+)$', text, re.M).group(1))
    assert total == 24 and count < 24 and singles < count  # fewer forwards than requests: batches were merged
    assert max(app.state.batcher.batch_sizes) <= 8  # and never above the bound


def test_batches_are_bounded_and_errors_reach_every_waiter():
    seen = []

    def forward(x):
        seen.append(len(x))
        return x.reshape(len(x), -1).sum(axis=1, keepdims=True)

    batcher = MicroBatcher(forward, max_batch_size=4, max_wait_ms=50)

    async def ten():
        return await asyncio.gather(*(batcher.predict(np.full((1, 1, 1), i, np.float32)) for i in range(10)))

    out = asyncio.run(ten())
    assert [float(r[0]) for r in out] == list(range(10)) and seen == [4, 4, 2]

    def broken(x):
        raise RuntimeError("out of memory")

    failing = MicroBatcher(broken, max_batch_size=4, max_wait_ms=20)

    async def two():
        return await asyncio.gather(
            *(failing.predict(np.zeros((1,), np.float32)) for _ in range(2)), return_exceptions=True
        )

    assert [str(e) for e in asyncio.run(two())] == ["out of memory", "out of memory"]
    batcher.close()
    failing.close()
    with pytest.raises(ValueError, match=r"^Invalid micro-batching bounds\. Expected max_batch_size >= 1"):
        MicroBatcher(forward, max_batch_size=0)
