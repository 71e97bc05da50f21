"""The server's counters in Prometheus' text exposition format (version 0.0.4), without a client library."""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict

__all__ = ["ServerMetrics"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * len(buckets)  # per bucket, not cumulative (made cumulative when rendered)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self.buckets, value)
        if i < len(self.counts):
            self.counts[i] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        out, running = [], 0
        sep = "," if labels else ""
        for bound, n in zip(self.buckets, self.counts):
            running += n
            out.append(f'{name}_bucket{{{labels}{sep}le="{_num(bound)}"}} {running}')
        out.append(f'{name}_bucket{{{labels}{sep}le="+Inf"}} {self.count}')
        braces = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{braces} {_num(self.sum)}", f"{name}_count{braces} {self.count}"]
        return out


def _num(v: float) -> str:
    return repr(float(v)) if not float(v).is_integer() else str(int(v)) if abs(v) < 1e15 else repr(float(v))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class ServerMetrics:
    """Requests by route, method and status, request latency by route, batch sizes and images predicted.

    Example:
        >>> m = ServerMetrics()
        >>> m.observe_request("/predict", "POST", 200, 0.012)
        >>> m.observe_batch(3)
        >>> print(m.render().splitlines()[2])
        cnnkit_requests_total{route="/predict",method="POST",status="200"} 1
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = {}
        self.batches = _Histogram(BATCH_BUCKETS)
        self.in_flight = 0

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, int(status))] += 1
            self.latency.setdefault(route, _Histogram(LATENCY_BUCKETS)).observe(seconds)

    def observe_batch(self, size: int) -> None:
        with self._lock:
            self.batches.observe(size)

    def render(self) -> str:
        """The exposition text served at ``GET /metrics``."""
        with self._lock:
            lines = [
                "# HELP cnnkit_requests_total HTTP requests answered, by route, method and status.",
                "# TYPE cnnkit_requests_total counter",
            ]
            for (route, method, status), n in sorted(self.requests.items()):
                lines.append(
                    f'cnnkit_requests_total{{route="{_label(route)}",method="{method}",status="{status}"}} {n}'
                )
            lines += [
                "# HELP cnnkit_request_duration_seconds Time from the request's start to the end of its response.",
                "# TYPE cnnkit_request_duration_seconds histogram",
            ]
            for route, hist in sorted(self.latency.items()):
                lines += hist.lines("cnnkit_request_duration_seconds", f'route="{_label(route)}"')
            lines += [
                "# HELP cnnkit_batch_size Images per forward pass of the micro-batcher.",
                "# TYPE cnnkit_batch_size histogram",
                *self.batches.lines("cnnkit_batch_size", ""),
                "# HELP cnnkit_requests_in_flight Requests being answered now.",
                "# TYPE cnnkit_requests_in_flight gauge",
                f"cnnkit_requests_in_flight {self.in_flight}",
            ]
        return "\n".join(lines) + "\n"
