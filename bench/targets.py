"""``make bench``'s verdict: the platform's figures as a ratio of the bare clients', and each of
the issue's targets against this run's figure."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from bench.cluster import RssTrend
from bench.limits import KafkaLimit, PipelineLimit, PostgresLimit
from bench.report import OMIT
from bench.runs import EndToEndRun

# The targets, on a 2-core machine with everything on it (docs/performance/method.md).
SUSTAINED_TARGET = 2200  # orders/s through all three consumers
P99_TARGET_MS = 250  # visible in fulfillment at 1,000 orders/s
P99_TARGET_RATE = 1000.0
PIPELINE_RATIO_TARGET = 0.5  # applied against the bare Kafka-plus-PostgreSQL pipeline
# RSS growth in the soak's second half that still counts as flat. One-sided: the target guards
# against leaks, and a service giving memory back is not one (in 058e7dd's soak each service
# gave back about 1 MiB at minute seven: -0.18 MiB/min, which a two-sided check called not flat).
FLAT_MIB_PER_MIN = 0.1


@dataclass(frozen=True)
class Limits:
    """The limit the platform runs against: the same payloads through bare clients."""

    kafka: KafkaLimit
    postgres: PostgresLimit
    pipeline: PipelineLimit


@dataclass(frozen=True)
class Ratios:
    # The target's ratio: orders/s through all three stores against the same Kafka and
    # PostgreSQL work done by bare clients along the same path, in the same run.
    applied_vs_bare_pipeline: float | None
    # What part of the platform's CPU per order that bare work is.
    bare_pipeline_cpu_share: float | None
    accepted_vs_bare_pg_executemany: float | None
    accepted_vs_bare_pg_copy: float | None
    applied_vs_bare_kafka_produce_then_consume: float | None
    accepted_vs_bare_kafka_produce: float | None


def ratios(full: EndToEndRun, limit: Limits) -> Ratios:
    """The full-speed run ``full`` against the bare clients' figures."""
    kafka, pg, pipe = limit.kafka, limit.postgres, limit.pipeline
    accepted, applied = full.throughput.accepted_per_s, full.throughput.applied_per_s
    return Ratios(
        applied_vs_bare_pipeline=_ratio(applied, pipe.per_s),
        bare_pipeline_cpu_share=_ratio(pipe.cpu.ms_per_order, full.cpu.ms_per_order),
        accepted_vs_bare_pg_executemany=_ratio(accepted, pg.executemany_per_s),
        accepted_vs_bare_pg_copy=_ratio(accepted, pg.copy_per_s),
        applied_vs_bare_kafka_produce_then_consume=_ratio(
            applied, kafka.produce_then_consume_per_s
        ),
        accepted_vs_bare_kafka_produce=_ratio(accepted, kafka.produce_per_s),
    )


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 4) if a and b else None


@dataclass(frozen=True)
class SustainedTarget:
    target: int
    value: float | None
    basis: str
    met: bool
    cpu_ms_per_order: float | None
    speed_probe_ms: float


@dataclass(frozen=True)
class P99Target:
    target: int
    value: float | None
    met: bool | None
    basis: str | None = field(default=None, metadata=OMIT)
    runs_under_target: int | None = field(default=None, metadata=OMIT)
    cpu_ms_per_order: list[float | None] | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True)
class RatioTarget:
    target: float
    value: float | None
    met: bool | None


@dataclass(frozen=True)
class MemoryTarget:
    target: str
    value: dict[str, float] | None
    met: bool | None


@dataclass(frozen=True)
class Targets:
    """Each target against this run's figure; ``met`` is None when the run did not measure
    it."""

    sustained_orders_per_s: SustainedTarget
    p99_ms_at_1000_per_s: P99Target
    applied_vs_bare_pipeline: RatioTarget
    memory_flat: MemoryTarget


def targets(
    runs: list[EndToEndRun], found: Ratios, soak_memory: dict[str, RssTrend] | None
) -> Targets:
    """Each target against this run's figure (``runs[0]`` is the full-speed run), with what
    the figure rests on. Read with the CPU per order beside it: the same build lands on either
    side of a target as the machine's speed changes."""
    ratio = found.applied_vs_bare_pipeline
    return Targets(
        sustained_orders_per_s=sustained_target(runs[0]),
        p99_ms_at_1000_per_s=p99_target(runs),
        applied_vs_bare_pipeline=RatioTarget(
            target=PIPELINE_RATIO_TARGET,
            value=ratio,
            met=None if ratio is None else ratio >= PIPELINE_RATIO_TARGET,
        ),
        memory_flat=memory_target(soak_memory or {}),
    )


def sustained_target(full: EndToEndRun) -> SustainedTarget:
    """Orders/s through all three consumers: the slowest one's while the load ran, or the
    whole run's when it was too short for the timeline's stretches."""
    sustained: float | None = full.slowest_while_loading
    basis = "slowest consumer while the load ran"
    if sustained is None:
        sustained, basis = full.throughput.applied_per_s, "applied over the whole run"
    return SustainedTarget(
        target=SUSTAINED_TARGET,
        value=sustained,
        basis=basis,
        met=sustained is not None and sustained >= SUSTAINED_TARGET,
        cpu_ms_per_order=full.cpu.ms_per_order,
        speed_probe_ms=full.cpu.machine.speed_probe_ms,
    )


def p99_target(runs: list[EndToEndRun]) -> P99Target:
    """The median of the visibility p99s of the runs at ``P99_TARGET_RATE``."""
    at_rate = [r for r in runs if r.target_rate == P99_TARGET_RATE]
    measured = [p for r in at_rate if (p := r.visible.p99_ms) is not None]
    if not measured:
        return P99Target(target=P99_TARGET_MS, value=None, met=None)
    median = statistics.median(measured)
    return P99Target(
        target=P99_TARGET_MS,
        value=median,
        basis=f"median of {len(measured)} runs",
        runs_under_target=sum(p < P99_TARGET_MS for p in measured),
        met=median < P99_TARGET_MS,
        cpu_ms_per_order=[r.cpu.ms_per_order for r in at_rate],
    )


def memory_target(soak_memory: dict[str, RssTrend]) -> MemoryTarget:
    """Every service's RSS growth in the soak's second half at most ``FLAT_MIB_PER_MIN``."""
    growth = {name: m.second_half_mib_per_min for name, m in soak_memory.items()}
    return MemoryTarget(
        target=(
            f"RSS growth at most {FLAT_MIB_PER_MIN} MiB/min in the soak's second half, "
            "every service"
        ),
        value=growth or None,
        met=all(g <= FLAT_MIB_PER_MIN for g in growth.values()) if growth else None,
    )


def targets_line(found: Targets) -> str:
    sustained, p99 = found.sustained_orders_per_s, found.p99_ms_at_1000_per_s
    ratio, memory = found.applied_vs_bare_pipeline, found.memory_flat
    parts = [
        f"{sustained.target}/s sustained: {sustained.value}/s ({sustained.basis}, "
        f"{sustained.cpu_ms_per_order} ms CPU/order): {_verdict(sustained.met)}",
        f"p99 < {p99.target} ms at 1,000/s: {p99.value} ms"
        + (f" ({p99.basis}, {p99.runs_under_target} under)" if p99.basis is not None else "")
        + f": {_verdict(p99.met)}",
        f"{ratio.target} of the bare pipeline: {ratio.value}: {_verdict(ratio.met)}",
        f"memory flat: {_verdict(memory.met)}",
    ]
    return "  targets: " + "; ".join(parts)


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "not met", None: "not measured"}[met]
