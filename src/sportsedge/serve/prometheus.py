"""The service's Prometheus metrics, in a registry of their own (docs/serve.md says what each means).

Labels are bounded: endpoints are the route templates (unknown paths count as "other"), statuses
the HTTP codes; nothing per request, per client or per token is ever a label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Metrics:
    """The service's Prometheus instruments, in a registry of their own."""

    registry: Any  # prometheus_client.CollectorRegistry (imported lazily: the serve extra)
    requests: Any  # Counter: sportsedge_requests_total{endpoint, status}
    seconds: dict[str, Any]  # Histograms by stage: queue_wait, inference, request (end to end)
    reloads: Any  # Counter: sportsedge_model_reloads_total{result}
    cuts: Any  # Counter: sportsedge_connections_cut_total{reason} (serve/guard.py)

    def observe(self, stage: str, seconds: float) -> None:
        """Record ``seconds`` in the histogram of ``stage``."""
        self.seconds[stage].observe(seconds)


def make_metrics(queue_depth: Callable[[], int]) -> Metrics:
    """``queue_depth``: a function returning the requests waiting for a worker now."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry()
    requests = Counter(
        "sportsedge_requests",
        "HTTP requests answered, by endpoint and status",
        ("endpoint", "status"),
        registry=registry,
    )
    seconds = {
        stage: Histogram(f"sportsedge_{stage}_seconds", text, buckets=LATENCY_BUCKETS, registry=registry)
        for stage, text in (
            ("queue_wait", "Time a classify request waited for a worker"),
            ("inference", "Time the model took on one image (the engine only)"),
            ("request", "Time from a classify request's arrival to its answer (end to end)"),
        )
    }
    reloads = Counter("sportsedge_model_reloads", "Model reloads, by result", ("result",), registry=registry)
    depth = Gauge("sportsedge_queue_depth", "Classify requests waiting for a worker", registry=registry)
    depth.set_function(queue_depth)
    cuts = Counter(
        "sportsedge_connections_cut",
        "Connections the server closed: header_size, header_timeout, body_timeout, body_slow, body_deadline, "
        "malformed, reclaimed, over_limit",
        ("reason",),
        registry=registry,
    )
    return Metrics(registry, requests, seconds, reloads, cuts)
