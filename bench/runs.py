"""What one ``make bench`` run reports: the typed results of ``bench.endtoend``'s runs, saved
as JSON by ``bench.report.jsonable`` (a field's name is its key)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import activity_results, timeline
from bench.cluster import RssTrend
from bench.common import Percentiles, Spread
from bench.profile import Profile
from bench.report import FLATTEN, OMIT

FULL_SPEED = "full speed"  # a run's target_rate when it posts as fast as it can


@dataclass(frozen=True)
class MachineProbe:
    """The machine's speed just before a run (a fixed piece of pure-Python work) and the CPU
    time the hypervisor stole during it."""

    speed_probe_ms: float
    steal_seconds: float


@dataclass(frozen=True)
class CpuUsed:
    """CPU seconds each process spent on a run, in all and per order."""

    seconds: dict[str, float]
    total_seconds: float
    ms_per_order: float | None
    note: str
    kafka_jit_seconds: float
    machine: MachineProbe


@dataclass(frozen=True)
class Throughput:
    """How fast a run's orders went in and through every store."""

    accepted: int
    accepted_per_s: float
    applied_per_s: float | None  # None: not every store held every order in time
    seconds_to_all_applied: float | None
    store_done_after_s: dict[str, float]
    statuses: dict[str, int]
    batch_request_latency: Percentiles


@dataclass(frozen=True)
class Visibility:
    """From acceptance to visibility in fulfillment's ``orders`` table, for a sample."""

    sampled: int
    percentiles: Percentiles = field(metadata=FLATTEN)


@dataclass(frozen=True)
class Hops:
    """Where the time from intake to visibility goes, hop by hop."""

    ingest_to_relay: Percentiles
    relay_to_fulfillment: Percentiles
    fulfillment_to_visible: Percentiles

    def named(self) -> list[tuple[str, Percentiles]]:
        return [
            ("ingest_to_relay", self.ingest_to_relay),
            ("relay_to_fulfillment", self.relay_to_fulfillment),
            ("fulfillment_to_visible", self.fulfillment_to_visible),
        ]


@dataclass(frozen=True)
class Latency:
    visible_in_fulfillment: Visibility
    visible_from_ingest_received_at: Percentiles
    fulfillment_created_at: Percentiles
    hops: Hops


@dataclass(frozen=True)
class EndToEndRun:
    orders: int
    target_rate: float | str  # orders/s, or FULL_SPEED
    batch_size: int
    throughput: Throughput = field(metadata=FLATTEN)
    latency: Latency = field(metadata=FLATTEN)
    cpu: CpuUsed
    background: activity_results.Report
    timeline: timeline.Report
    profile: dict[str, Profile] | None = field(default=None, metadata=OMIT)  # by service

    @property
    def visible(self) -> Percentiles:
        return self.latency.visible_in_fulfillment.percentiles

    @property
    def slowest_while_loading(self) -> float | None:
        """Orders/s applied by the slowest consumer while the load ran; None when the run was
        too short for the timeline's stretches."""
        during = self.timeline.during_load
        return min(during.applied_per_s.values()) if during and during.applied_per_s else None


@dataclass(frozen=True)
class SoakRun:
    run: EndToEndRun = field(metadata=FLATTEN)
    memory: dict[str, RssTrend]  # by process


@dataclass(frozen=True)
class SingleRun:
    orders: int
    target_rate: float
    requests_per_s: float
    statuses: dict[str, int]
    latency: Percentiles
    cpu: CpuUsed
    background: activity_results.Report


@dataclass(frozen=True)
class WarmUp:
    orders_per_round: int
    rounds: int
    kafka_jit_seconds: list[float]  # by round


@dataclass(frozen=True)
class Repeated:
    """One rate and batch size run more than once: the median and range of its figures."""

    target_rate: float | str
    batch_size: int
    runs: int
    visible_p50_ms: Spread | None = field(default=None, metadata=OMIT)
    visible_p99_ms: Spread | None = field(default=None, metadata=OMIT)
    applied_per_s: Spread | None = field(default=None, metadata=OMIT)
    cpu_ms_per_order: Spread | None = field(default=None, metadata=OMIT)
