"""Prometheus metrics at ``/metrics`` (prometheus-client), correct under several gunicorn workers.

What is recorded, per request, after its answer is ready (one ``after_request`` hook):

- ``jobdash_http_request_duration_seconds{method, route, status}``: a histogram, by the route's template
  (``/api/jobs/<int:job_id>/``, never the raw path: one series per endpoint, not per job);
- ``jobdash_http_request_db_seconds{route}``: the SQL time of the request (the time
  ``dashboard.instrumentation`` adds up for ``Server-Timing``);
- ``jobdash_cache_requests_total{outcome}``: hit, miss or bypass of the response cache;
- ``jobdash_events_appended_total``: status events written (a created job's first one included).

Kept as it changes: ``jobdash_db_pool_connections_in_use{database}`` (primary or replica), from the pools'
checkout and checkin. Read at scrape time: ``jobdash_jobs{status}``, jobs per current status, from the
count tables the write path keeps (at most 5 x 64 small rows, whatever the number of jobs), and
``jobdash_stuck_jobs{family, status}``, jobs in PENDING or RUNNING for longer than their family's
threshold (``db.insights.stuck_counts``: one index range of stuck jobs per pair, at most 10,000 counted),
and ``jobdash_history_deltas_unfolded``, the appends waiting in the delta log for a fold (db/folding.py;
a number that keeps growing means folds do not keep up or do not run).

**Several workers.** prometheus-client's multiprocess mode: ``jobdash serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a new directory (on tmpfs) before gunicorn starts, since the library
chooses where values live when it is first imported, which the master does; gunicorn's ``on_starting``
hook empties a configured directory of an earlier run's files. Each worker writes its values to files of
its own there, and whichever worker answers a scrape sums every worker's (the ``child_exit`` hook drops a
dead worker's live gauges). Without the variable (``jobdash demo``, tests) each app has a registry of
its own.

``/metrics`` is behind ``JOBDASH_BASIC_AUTH`` like every page (only the health probes are not);
``JOBDASH_METRICS=false`` turns all of it off (no hooks, and ``/metrics`` is a 404).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, event

from dashboard.database import get_database
from dashboard.settings import Settings
from db import aggregates, folding, insights
from db.engine import Database

log = logging.getLogger(__name__)
_EXTENSION = "jobdash.metrics"
# Latencies from a cached hit (about a millisecond) to the request timeout.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The endpoints that append a status event when they answer 201 (creating a job writes its first event).
EVENT_ENDPOINTS = frozenset({"api.jobs.create_job", "api.jobs.append_status"})
CACHE_OUTCOMES = frozenset({"hit", "miss", "bypass"})
# Requests no route matched: one series for all of them, whatever path was asked for.
UNMATCHED_ROUTE = "unmatched"


@dataclass
class Metrics:
    """The metric objects one process records into."""

    request_seconds: Histogram
    db_seconds: Histogram
    cache_requests: Counter
    events_appended: Counter
    pool_in_use: Gauge
    # Labelled children by metric and label values: one dict lookup per record instead of labels()'s
    # validation and lock (the label values are bounded: routes, methods, statuses, outcomes).
    _children: dict[tuple[int, tuple[str, ...]], Any] = field(default_factory=dict, repr=False)

    def child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, remembered."""
        key = (id(metric), values)
        found = self._children.get(key)
        if found is None:
            found = self._children.setdefault(key, metric.labels(*values))
        return found

    @classmethod
    def create(cls, registry: CollectorRegistry | None) -> Metrics:
        """Every metric, in ``registry`` (None in multiprocess mode: the files are the registry)."""
        return cls(
            request_seconds=Histogram(
                "jobdash_http_request_duration_seconds",
                "Time to answer a request, by route template and status.",
                ["method", "route", "status"],
                buckets=BUCKETS,
                registry=registry,
            ),
            db_seconds=Histogram(
                "jobdash_http_request_db_seconds",
                "SQL time spent answering a request, by route template.",
                ["route"],
                buckets=BUCKETS,
                registry=registry,
            ),
            cache_requests=Counter(
                "jobdash_cache_requests",
                "Cacheable answers by how the response cache served them.",
                ["outcome"],
                registry=registry,
            ),
            events_appended=Counter(
                "jobdash_events_appended", "Status events written through the API.", registry=registry
            ),
            pool_in_use=Gauge(
                "jobdash_db_pool_connections_in_use",
                "Database connections checked out of the pools.",
                ["database"],
                multiprocess_mode="livesum",
                registry=registry,
            ),
        )


class ScrapedGauge(Collector):
    """A gauge read from the database when scraped (never summed across workers): ``read(conn)`` gives
    {label values: value}; nothing (and one warning) when the database does not answer."""

    def __init__(
        self,
        database: Database,
        name: str,
        documentation: str,
        labels: list[str],
        read: Callable[[Connection], dict[tuple[str, ...], int]],
    ) -> None:
        self.database, self.name, self.documentation, self.labels, self.read = (
            database,
            name,
            documentation,
            labels,
            read,
        )

    def collect(self) -> Iterator[Any]:
        """The gauge's samples, in label order."""
        try:
            with self.database.read() as conn:
                values = self.read(conn)
        except Exception as exc:  # a scrape must still report the process's own metrics
            log.warning(f"metrics: {self.name} unavailable", extra={"error": str(exc).splitlines()[0]})
            return
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        for labels, value in sorted(values.items()):
            family.add_metric(list(labels), value)
        yield family


def job_gauges(database: Database) -> list[ScrapedGauge]:
    """``jobdash_jobs{status}`` from the count tables; ``jobdash_stuck_jobs{family, status}`` counted;
    ``jobdash_history_deltas_unfolded``, the delta log's length."""
    return [
        ScrapedGauge(
            database,
            "jobdash_jobs",
            "Jobs per current status.",
            ["status"],
            lambda conn: {(status,): n for status, n in aggregates.totals(conn).items()},
        ),
        ScrapedGauge(
            database,
            "jobdash_stuck_jobs",
            "Jobs in PENDING or RUNNING for longer than their family's threshold (at most 10,000 counted).",
            ["family", "status"],
            lambda conn: {pair: n for pair, n in insights.stuck_counts(conn).items()},
        ),
        ScrapedGauge(
            database,
            "jobdash_history_deltas_unfolded",
            "Appends waiting in the history delta log for a fold (at most 100,000 counted).",
            [],
            lambda conn: {(): folding.unfolded(conn)},
        ),
    ]


MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A directory `jobdash serve` made (and gunicorn's on_exit removes); a configured one is only emptied.
TEMPORARY_DIR_PREFIX = "jobdash-metrics-"


def multiprocess_environment(environ: dict[str, str], parent: str | None) -> dict[str, str]:
    """``environ`` with ``PROMETHEUS_MULTIPROC_DIR`` set: as configured, or a new directory in ``parent``."""
    if environ.get(MULTIPROC_ENV):
        return environ
    return {**environ, MULTIPROC_ENV: tempfile.mkdtemp(prefix=TEMPORARY_DIR_PREFIX, dir=parent)}


def empty_multiprocess_dir() -> str | None:
    """In the gunicorn master before any worker: the directory, emptied of an earlier run's files.

    None when gunicorn was started without one (not through `jobdash serve`): each worker then reports
    only its own requests, which the caller warns about.
    """
    path = os.environ.get(MULTIPROC_ENV)
    if not path or not is_multiprocess():
        return None
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.unlink(os.path.join(path, name))
    return path


def worker_exited(pid: int) -> None:
    """A gunicorn worker is gone: its live gauges (connections in use) leave the sums."""
    if is_multiprocess():
        mark_process_dead(pid)


def remove_temporary_dir() -> None:
    """At gunicorn's exit: remove the directory `jobdash serve` made for this run."""
    path = os.environ.get(MULTIPROC_ENV, "")
    if os.path.basename(path).startswith(TEMPORARY_DIR_PREFIX):
        shutil.rmtree(path, ignore_errors=True)


def is_multiprocess() -> bool:
    """Whether this process records into files shared with its sibling workers."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


# In multiprocess mode a metric's values live in this process's files, keyed by name and labels: two
# objects of one name would overwrite each other's counts, so a process makes them once.
_process_metrics: list[Metrics] = []


def _metrics_for(registry: CollectorRegistry | None) -> Metrics:
    if registry is not None:
        return Metrics.create(registry)
    if not _process_metrics:
        _process_metrics.append(Metrics.create(None))
    return _process_metrics[0]


_COUNTED = "jobdash_metrics_in_use"


def _track_pool(engine: Engine, gauge: Any) -> None:
    """Count checkouts and checkins of ``engine``'s pool in ``gauge``.

    The pool also signals a checkin for a connection that never reached its caller (a failed connect,
    a dead pooled connection refused at checkout), so only what was counted out is counted back in.
    """

    def checked_out(_dbapi: Any, record: Any, _proxy: Any) -> None:
        record.record_info[_COUNTED] = True
        gauge.inc()

    def checked_in(_dbapi: Any, record: Any) -> None:
        if record.record_info.pop(_COUNTED, False):
            gauge.dec()

    event.listen(engine, "checkout", checked_out)
    event.listen(engine, "checkin", checked_in)


def init_metrics(server: Flask, settings: Settings) -> Metrics | None:
    """Record request metrics on ``server`` and serve them at ``/metrics`` (unless JOBDASH_METRICS=false)."""
    if not settings.metrics:
        return None
    # ``*_created`` series (one more per labelled child) carry nothing our alerts use.
    disable_created_metrics()
    with server.app_context():
        database = get_database()
    own_registry = None if is_multiprocess() else CollectorRegistry()
    metrics = _metrics_for(own_registry)
    _track_pool(database.writer, metrics.pool_in_use.labels("primary"))
    if database.reader is not database.writer:
        _track_pool(database.reader, metrics.pool_in_use.labels("replica"))
    gauges = job_gauges(database)
    if own_registry is not None:
        for gauge in gauges:
            own_registry.register(gauge)
    server.extensions[_EXTENSION] = metrics

    @server.before_request
    def start_clock() -> None:
        g.metrics_started = time.perf_counter()

    @server.after_request
    def record(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        if started is None:
            return response
        elapsed = time.perf_counter() - started
        rule = request.url_rule
        route = rule.rule if rule is not None else UNMATCHED_ROUTE
        status = response.status_code
        metrics.child(metrics.request_seconds, request.method, route, str(status)).observe(elapsed)
        metrics.child(metrics.db_seconds, route).observe(g.get("db_ms", 0.0) / 1000)
        outcome = g.get("cache_outcome")
        if outcome in CACHE_OUTCOMES:
            metrics.child(metrics.cache_requests, outcome).inc()
        if status == 201 and request.endpoint in EVENT_ENDPOINTS:
            metrics.events_appended.inc()
        return response

    def scrape() -> Response:
        if own_registry is not None:
            registry = own_registry
        else:
            # A fresh registry per scrape: it reads every worker's files as they are now.
            registry = CollectorRegistry()
            MultiProcessCollector(registry)
            for gauge in gauges:
                registry.register(gauge)
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        return Response(encode(registry), content_type=content_type, headers={"Cache-Control": "no-store"})

    server.add_url_rule("/metrics", "metrics", scrape, methods=["GET"])
    return metrics
