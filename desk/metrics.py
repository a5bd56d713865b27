"""In-process counters and histograms, rendered in the Prometheus text exposition format.

Counters are per process (with ``--workers N`` each worker reports its own, as Prometheus
expects, and a query sums them). Database-derived figures (queue depth, the first-response
histogram) are computed from the shared database at scrape time, so every worker reports the
same, complete values for those.
"""

from __future__ import annotations

import bisect
import gc
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

#: Acknowledgement latency buckets, seconds (X's hard limit is 10 s).
ACK_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: First-response-time buckets, seconds (1 min ... 1 day; the default SLA is 600 s).
FRT_BUCKETS: tuple[float, ...] = (
    60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400,
)
#: Rows per group commit buckets.
BATCH_BUCKETS: tuple[float, ...] = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

_HELP: dict[str, tuple[str, str]] = {
    "chirpdesk_deliveries_total": ("counter", "Webhook deliveries acknowledged with 200."),
    "chirpdesk_deliveries_read_whole_total": (
        "counter", "Webhook deliveries taken whole off their connection, without an ASGI request cycle."),
    "chirpdesk_ingested_total": ("counter", "Events (tweets and DMs) stored for the first time."),
    "chirpdesk_duplicates_total": ("counter", "Redelivered events acknowledged but not stored again."),
    "chirpdesk_rejected_total": ("counter", "Requests refused, by reason."),
    "chirpdesk_event_deliveries_total": (
        "counter", "Deliveries acknowledged with 200, by X event type (none: no event key)."),
    "chirpdesk_connections_refused_total": (
        "counter", "Connections or requests cut off by the connection limits or shed, by reason."),
    "chirpdesk_commit_errors_total": ("counter", "Deliveries whose group commit failed."),
    "chirpdesk_commit_failures_total": ("counter", "Group-commit batches that failed on the storage."),
    "chirpdesk_storage_healthy": ("gauge", "1 while commits succeed, 0 while they fail (see /healthz)."),
    "chirpdesk_group_commits_total": ("counter", "Group-commit transactions."),
    "chirpdesk_write_queue_depth": ("gauge", "Deliveries waiting for the group-commit writer."),
    "chirpdesk_queue_depth": ("gauge", "Conversations waiting for an agent."),
    "chirpdesk_conversations": ("gauge", "Conversations by status."),
    "chirpdesk_escalations_total": ("counter", "Tickets opened, by escalation target."),
    "chirpdesk_ack_seconds": ("histogram", "Webhook acknowledgement latency, seconds."),
    "chirpdesk_group_commit_size": ("histogram", "Deliveries per group-commit transaction."),
    "chirpdesk_group_commit_seconds": ("histogram", "Group-commit transaction time, seconds."),
    "chirpdesk_first_response_seconds": (
        "histogram", "First-response time (first reply minus first message), seconds."),
    # The names prometheus_client's GC collector uses, so existing dashboards read them.
    "python_gc_collections_total": ("counter", "Garbage collections of this process, by generation."),
    "python_gc_objects_collected_total": ("counter", "Objects the garbage collector freed, by generation."),
    "python_gc_objects_uncollectable_total": (
        "counter", "Uncollectable objects the garbage collector found, by generation."),
}


@dataclass
class Histogram:
    """Cumulative-bucket histogram as Prometheus defines it (``le`` upper bounds)."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        if not self.counts:
            self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        """Add one observation (in the histogram's unit)."""
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.counts):
            self.counts[index] += 1
        self.total += value
        self.count += 1

    @classmethod
    def of(cls, buckets: tuple[float, ...], values: Iterable[float]) -> Histogram:
        """A histogram filled with ``values``."""
        hist = cls(buckets)
        for value in values:
            hist.observe(value)
        return hist

    def render(self, name: str) -> list[str]:
        """Exposition lines ``name_bucket{le=..}``, ``name_sum``, ``name_count``."""
        lines = []
        running = 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            running += count
            lines.append(f'{name}_bucket{{le="{_num(bound)}"}} {running}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{name}_sum {_num(self.total)}")
        lines.append(f"{name}_count {self.count}")
        return lines


def collector_counts() -> dict[str, list[int]]:
    """This process's garbage-collector counters: for each exposition name, one value per
    generation (0, 1, 2). A serving process that collects often spends its CPU there
    (docs/desk.md, "Overload")."""
    stats = gc.get_stats()
    return {name: [row[key] for row in stats] for name, key in (
        ("python_gc_collections_total", "collections"),
        ("python_gc_objects_collected_total", "collected"),
        ("python_gc_objects_uncollectable_total", "uncollectable"))}


def _num(value: float) -> str:
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)):
        return str(int(value))
    return repr(float(value))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


def summarise(values: Sequence[float]) -> dict[str, float | int | None]:
    """``count``, ``mean``, ``p50``, ``p90``, ``p95``, ``p99``, ``max`` of ``values`` (seconds)."""
    return {
        "count": len(values),
        "mean": statistics.fmean(values) if values else None,
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


#: Refusals by the connection guard (:mod:`chirpdesk.desk.connections`), by reason: ``connections``,
#: ``idle``, ``read_timeout``, ``header_too_large``, and the sheds ``in_flight``, ``cpu``, ``lag``. Per process, like :class:`Metrics`;
#: a module-level counter because uvicorn builds the guard per connection, outside the app.
CONNECTION_REFUSALS: Counter[str] = Counter()

_DELIVERIES = ("chirpdesk_deliveries_total", ())
_INGESTED = ("chirpdesk_ingested_total", ())
_DUPLICATES = ("chirpdesk_duplicates_total", ())
_COMMITS = ("chirpdesk_group_commits_total", ())
#: Deliveries read whole off their connection (:func:`chirpdesk.desk.routes_webhook.deliver_whole`).
READ_WHOLE = ("chirpdesk_deliveries_read_whole_total", ())


class Metrics:
    """The process's counters and histograms. Not thread-safe: used from the event loop only."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.ack = Histogram(ACK_BUCKETS)
        self.batch_size = Histogram(BATCH_BUCKETS)
        self.commit_seconds = Histogram(ACK_BUCKETS)
        self._kind_keys: dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]] = {}
        for name in ("chirpdesk_deliveries_total", "chirpdesk_ingested_total",
                     "chirpdesk_duplicates_total", "chirpdesk_group_commits_total",
                     "chirpdesk_commit_errors_total", "chirpdesk_commit_failures_total",
                     READ_WHOLE[0]):
            self.counters[(name, ())] = 0

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to counter ``name`` with ``labels``."""
        key = (name, tuple(sorted(labels.items())))
        self.counters[key] = self.counters.get(key, 0) + amount

    def get(self, name: str, **labels: str) -> float:
        """Current value of a counter (0 if never incremented)."""
        return self.counters.get((name, tuple(sorted(labels.items()))), 0)

    def reject(self, reason: str) -> None:
        """Count a refused request; ``reason`` is e.g. ``signature``, ``too_large``, ``overload``."""
        self.inc("chirpdesk_rejected_total", reason=reason)

    def record_ingest(self, stored: int, duplicates: int, deliveries: int = 1) -> None:
        """Count committed deliveries and their new and duplicate events."""
        counters = self.counters
        counters[_DELIVERIES] += deliveries
        counters[_INGESTED] += stored
        counters[_DUPLICATES] += duplicates

    def count_kinds(self, kinds: str) -> None:
        """Count one acknowledged delivery under each of its event types (``kinds``:
        comma-separated, as :attr:`chirpdesk.desk.schema.Delivery.kinds`)."""
        keys = self._kind_keys.get(kinds)
        if keys is None:
            keys = self._kind_keys[kinds] = [
                ("chirpdesk_event_deliveries_total", (("type", kind),)) for kind in (kinds or "none").split(",")
            ]
        counters = self.counters
        for key in keys:
            counters[key] = counters.get(key, 0) + 1

    def observe_commit(self, size: int, seconds: float) -> None:
        """Record one group commit of ``size`` deliveries taking ``seconds``."""
        self.counters[_COMMITS] += 1
        self.batch_size.observe(size)
        self.commit_seconds.observe(seconds)

    def render(
        self,
        write_queue_depth: int,
        by_status: dict[str, int] | None,
        escalations: dict[str, int] | None,
        first_response_seconds: Sequence[float],
        storage_healthy: bool = True,
    ) -> str:
        """The full exposition text, including gauges/histograms derived from the database
        (``by_status``/``escalations`` ``None``: the database did not answer, left out)."""
        out: list[str] = []
        emitted: set[str] = set()

        def header(name: str) -> None:
            if name not in emitted:
                kind, text = _HELP.get(name, ("untyped", name))
                out.append(f"# HELP {name} {text}")
                out.append(f"# TYPE {name} {kind}")
                emitted.add(name)

        if ("chirpdesk_rejected_total", ()) not in self.counters and not any(
            k[0] == "chirpdesk_rejected_total" for k in self.counters
        ):
            header("chirpdesk_rejected_total")
        for (name, labels), value in sorted(self.counters.items()):
            header(name)
            label_text = ",".join(f'{k}="{v}"' for k, v in labels)
            out.append(f"{name}{{{label_text}}} {_num(value)}" if labels else f"{name} {_num(value)}")
        header("chirpdesk_connections_refused_total")
        for reason, count in sorted(CONNECTION_REFUSALS.items()):
            out.append(f'chirpdesk_connections_refused_total{{reason="{reason}"}} {count}')
        header("chirpdesk_storage_healthy")
        out.append(f"chirpdesk_storage_healthy {int(storage_healthy)}")
        header("chirpdesk_write_queue_depth")
        out.append(f"chirpdesk_write_queue_depth {write_queue_depth}")
        if by_status is not None:
            header("chirpdesk_queue_depth")
            out.append(f"chirpdesk_queue_depth {by_status.get('waiting', 0)}")
            header("chirpdesk_conversations")
            for status, count in sorted(by_status.items()):
                out.append(f'chirpdesk_conversations{{status="{status}"}} {count}')
        if escalations is not None:
            header("chirpdesk_escalations_total")
            for target, count in sorted(escalations.items()):
                out.append(f'chirpdesk_escalations_total{{target="{target}"}} {count}')
        for name, per_generation in collector_counts().items():
            header(name)
            out.extend(f'{name}{{generation="{g}"}} {n}' for g, n in enumerate(per_generation))
        for name, hist in (
            ("chirpdesk_ack_seconds", self.ack),
            ("chirpdesk_group_commit_size", self.batch_size),
            ("chirpdesk_group_commit_seconds", self.commit_seconds),
            ("chirpdesk_first_response_seconds", Histogram.of(FRT_BUCKETS, first_response_seconds)),
        ):
            header(name)
            out.extend(hist.render(name))
        return "\n".join(out) + "\n"
