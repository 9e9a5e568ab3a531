"""``make faults``: the platform under load while processes, the broker and the database fail.

Every scenario runs on a private Kafka and PostgreSQL (``.run/faults/``, not ``make up``'s),
with fresh databases and a fresh topic prefix, and each service role in its own process:
ingest ``api`` and ``relay``; fulfillment, defects and analytics ``worker`` and ``relay``.
A load generator (its own process) posts ``FAULT_ORDERS`` orders (default 10000) in batches at
``FAULT_RATE`` orders/s, retrying 503/429 after ``Retry-After``, while the fault happens:

- ``consumer-kill``: ``kill -9`` of each consumer's worker while its store is growing (a batch
  is being applied), restarted at once; three rounds.
- ``relay-kill``: ingest's relay killed with -9 as soon as Kafka holds records its outbox has
  not marked sent (after publishing, before marking sent), restarted; ten times.
- ``kafka-restart``: the broker is stopped, left down ``FAULT_OUTAGE_S`` (10) and started.
- ``postgres-restart``: PostgreSQL likewise; the API must answer 503, never another 5xx.
- ``postgres-crash``: PostgreSQL aborted (``pg_ctl stop -m immediate``: every server process
  killed, what the WAL writer had not yet written lost, crash recovery at the next start), down
  as long, started. The relays' sent marks commit without waiting for the disk, so some may be
  lost: those rows go out again and the inboxes drop the repeats.
- ``rebalance``: a second worker of each consumer joins its group, then leaves.

Each ends by checking that every accepted order is in fulfillment's, defects' and analytics'
stores exactly once (ids compared, row counts equal), each store's inbox holds one orders.v1
event per order, no service published an event twice for the same (subject, version), nothing
was dead-lettered, every outbox is drained, every consumer group's lag is zero, no status other
than 2xx/429/503 was answered and no process died on its own. Recovery time runs from the end of
the fault until all of that holds. ``FAULT_SCENARIOS`` picks scenarios (comma separated).
Prints one line per scenario, then a JSON summary as the last line; exits 1 if any failed.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bench import stores
from bench.cluster import API_KEY, CONSUMERS, Cluster, Infra, tail
from bench.common import machine, save
from bench.loadgen import LoadProcess, LoadSpec

INFRA = Infra("faults", kafka_port=39092, controller_port=39093, postgres_port=35432)
LAYOUT = [
    ("ingest", "api"),
    ("ingest", "relay"),
    *((service, role) for service in CONSUMERS for role in ("worker", "relay")),
]


@dataclass
class Run:
    """One scenario's cluster and load, handed to its fault."""

    cluster: Cluster
    load: LoadProcess
    orders: int
    rate: float
    events: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    fault_ended: float | None = None

    def note(self, text: str) -> None:
        self.events.append(f"{time.time() - self.started:6.1f}s {text}")

    async def at_fraction(self, fraction: float) -> None:
        """Sleep until ``fraction`` of the load should have been sent."""
        due = self.started + fraction * self.orders / self.rate
        await asyncio.sleep(max(0.0, due - time.time()))

    async def store_growing(self, service: str, timeout: float = 8.0) -> bool:
        """Wait until ``service``'s store count moves between two looks 50 ms apart."""
        deadline = time.monotonic() + timeout
        before = (await stores.count_orders(self.cluster)).get(service)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            now = (await stores.count_orders(self.cluster)).get(service)
            if now is not None and before is not None and now > before:
                return True
            before = now
        return False


Fault = Callable[[Run], Coroutine[Any, Any, None]]


async def consumer_kill(run: Run) -> None:
    await run.at_fraction(0.1)
    for round_ in range(1, 4):
        for service in CONSUMERS:
            growing = await run.store_growing(service)
            run.cluster.kill(service, "worker")
            run.cluster.start(service, "worker")
            run.note(f"round {round_}: kill -9 {service} worker (store growing: {growing})")
        for service in CONSUMERS:  # each restarted worker applies again before the next round
            await run.store_growing(service, timeout=30.0)


async def relay_kill(run: Run) -> None:
    """Kill ingest's relay between publishing a batch and marking it sent, ten times.

    While the relay publishes, Kafka holds more ``orders.v1`` records than ingest's outbox has
    rows marked sent (beyond the repeats already there): that is the moment to kill it. Each
    restarted relay is given up to 30 s to boot and publish before it is killed regardless.
    """
    await run.at_fraction(0.1)
    cluster = run.cluster
    async with stores.publish_watch(cluster) as excess:
        baseline = await excess()
        for n in range(1, 11):
            caught = False
            deadline = time.monotonic() + 30.0
            while time.monotonic() < deadline and not caught:
                caught = await excess() > baseline
            cluster.kill("ingest", "relay")
            baseline = await excess()  # the dead relay publishes nothing: a stable reading
            cluster.start("ingest", "relay")
            where = "after publishing, before marking sent" if caught else "(window not seen)"
            run.note(f"kill -9 ingest relay #{n} {where}")


def outage(stop: Callable[[], None], start: Callable[[], Any], what: str) -> Fault:
    async def fault(run: Run) -> None:
        await run.at_fraction(0.25)
        seconds = float(os.environ.get("FAULT_OUTAGE_S", "10"))
        await asyncio.to_thread(stop)
        run.note(f"{what} stopped")
        await asyncio.sleep(seconds)
        await asyncio.to_thread(start)
        run.note(f"{what} started again")

    return fault


async def rebalance(run: Run) -> None:
    await run.at_fraction(0.2)
    for service in CONSUMERS:
        run.cluster.start(service, "worker", instance=1)
    run.note("a second worker of each consumer joined")
    await asyncio.sleep(10.0)
    for service in CONSUMERS:
        run.cluster.stop(service, "worker", instance=1)
    run.note("the second workers left (SIGTERM)")


async def _timed_fault(fault: Fault, run: Run) -> None:
    await fault(run)
    run.fault_ended = time.time()


SCENARIOS: dict[str, Fault] = {
    "consumer-kill": consumer_kill,
    "relay-kill": relay_kill,
    "kafka-restart": outage(INFRA.kafka.stop, INFRA.kafka.start, "Kafka"),
    "postgres-restart": outage(INFRA.postgres.stop, INFRA.postgres.start, "PostgreSQL"),
    "postgres-crash": outage(
        functools.partial(INFRA.postgres.stop, mode="immediate"),
        INFRA.postgres.start,
        "PostgreSQL (aborted)",
    ),
    "rebalance": rebalance,
}


async def scenario(name: str, fault: Fault, n: int, rate: float, batch: int) -> dict[str, Any]:
    INFRA.start()  # a previous scenario may have left a server stopped
    tag = f"f{int(time.time())}_{name.split('-')[0]}"
    cluster = Cluster(INFRA, tag)
    cluster.create()
    cluster.start_all(LAYOUT)
    failures: list[str] = []
    try:
        await asyncio.sleep(3)  # workers join their groups
        spec = LoadSpec(
            url=cluster.ingest_url,
            api_key=API_KEY,
            orders=n,
            id_prefix=f"{int(time.time()) % 10_000_000:07d}",
            batch_size=batch,
            rate=rate,
            in_flight=4,
        )
        load = LoadProcess(spec, cluster.log_dir)
        run = Run(cluster, load, n, rate)
        fault_task = asyncio.create_task(_timed_fault(fault, run))
        result = await load.wait()
        run.note(f"load done: {len(result['accepted'])} accepted")
        await fault_task
        fault_end = run.fault_ended or time.time()
        timeout = float(os.environ.get("FAULT_TIMEOUT_S", "300"))
        accepted = set(result["accepted"])
        done = await stores.wait_complete(cluster, len(accepted), timeout=timeout)
        checks = [await stores.check_store(cluster, s, accepted) for s in CONSUMERS]
        ingest = await stores.ingest_facts(cluster)
        published = await stores.topic_messages(INFRA.kafka.bootstrap, cluster.topic("orders.v1"))
        dead = cluster.dead()
        restarts = {p.name: p.restarts for p in cluster.procs.values() if p.restarts}
    finally:
        cluster.stop_all()

    bad_status = {
        s: c for s, c in result["statuses"].items() if s.isdigit() and int(s) >= 500 and s != "503"
    }
    if len(accepted) != n or result["given_up"]:
        failures.append(f"accepted {len(accepted)} of {n}; gave up {len(result['given_up'])}")
    if bad_status:
        failures.append(f"5xx other than 503: {bad_status} {result['unexpected'][:3]}")
    for check in checks:
        if not check.ok(len(accepted)):
            failures.append(f"{check.service}: {check}")
    if done.lag_zero_at is None:
        failures.append(f"not complete after {timeout:.0f}s: {done.counts}, lag {done.lags}")
    if ingest["unsent_outbox"] or ingest["order_events"] != len(accepted):
        failures.append(f"ingest: {ingest}")
    if dead:
        failures.append(f"processes died on their own: {dead}")
        for proc_name in dead:
            run.note(f"{proc_name} log tail: {tail(cluster.log_dir / (proc_name + '.log'), 8)}")
    return {
        "scenario": name,
        "passed": not failures,
        "orders": n,
        "accepted": len(accepted),
        "found": {c.service: c.found for c in checks},
        "rows": {c.service: c.rows for c in checks},
        "duplicates": {c.service: c.duplicate_rows + c.duplicate_effects for c in checks},
        "dead_letters": {c.service: c.dead_letters for c in checks},
        "orders_v1_records": published,
        "republished_by_relay": published - len(accepted),
        "statuses": result["statuses"],
        "retries": result["retries"],
        "load_seconds": round(result["finished"] - result["started"], 1),
        "recovery_s": round(done.done_at - fault_end, 2) if done.done_at else None,
        "drain_after_load_s": round(done.done_at - result["finished"], 2) if done.done_at else None,
        "restarts": restarts,
        "events": run.events,
        "failures": failures,
        "tag": tag,
    }


def line(result: dict[str, Any]) -> str:
    verdict = "PASS" if result["passed"] else "FAIL"
    return (
        f"{verdict} {result['scenario']:<17} accepted {result['accepted']}, "
        f"found {result['found']}, "
        f"duplicates {result['duplicates']}, recovery {result['recovery_s']} s after the fault "
        f"({result['drain_after_load_s']} s after the load), "
        f"statuses {result['statuses']}, relay re-sent {result['republished_by_relay']}"
    )


async def run_all() -> dict[str, Any]:
    n = int(os.environ.get("FAULT_ORDERS", "10000"))
    rate = float(os.environ.get("FAULT_RATE", "200"))
    batch = int(os.environ.get("FAULT_BATCH", "100"))
    wanted = os.environ.get("FAULT_SCENARIOS", ",".join(SCENARIOS)).split(",")
    results = []
    was_running = INFRA.is_running()
    try:
        for name in (w.strip() for w in wanted if w.strip()):
            print(f"... {name}: {n} orders at {rate:g}/s", flush=True)
            result = await scenario(name, SCENARIOS[name], n, rate, batch)
            for event in result["events"]:
                print(f"    {event}", flush=True)
            for failure in result["failures"]:
                print(f"    ! {failure}", flush=True)
            print(line(result), flush=True)
            results.append(result)
    finally:
        if not was_running:  # leave the machine as we found it
            INFRA.stop()
    return {
        "faults": results,
        "passed": all(r["passed"] for r in results),
        "orders": n,
        "rate": rate,
        "machine": machine(),
    }


def main() -> None:
    report = asyncio.run(run_all())
    print(save("faults", report))
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
