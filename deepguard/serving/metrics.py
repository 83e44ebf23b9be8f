"""Prometheus counters of one worker (each app has its own registry: no global state).

Under gunicorn every worker keeps its own counts and a scrape reaches one worker; run one
worker per container, or scrape each, when totals matter.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServingMetrics:
    """Requests, latency, predictions, image errors, load shedding and readiness."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, is_ready: Callable[[], bool]):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "deepguard_requests",
            "HTTP requests answered, by endpoint, method and status",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "deepguard_request_latency_seconds",
            "Time from request start to response, by endpoint",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.predictions = Counter(
            "deepguard_predictions",
            "Images scored, by label",
            ["label"],
            registry=self.registry,
        )
        self.image_errors = Counter(
            "deepguard_image_errors",
            "Images refused, by error code",
            ["code"],
            registry=self.registry,
        )
        self.shed = Counter(
            "deepguard_overload_rejections",
            "Predict requests answered 503 because every slot stayed busy",
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "deepguard_predictions_in_flight",
            "Predict requests holding a slot now",
            registry=self.registry,
        )
        ready = Gauge("deepguard_model_ready", "1 once the model is loaded", registry=self.registry)
        ready.set_function(lambda: float(is_ready()))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
