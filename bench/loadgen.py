"""The load generator: posts orders to ingest from its own process and records what happened.

Run as ``python -m bench.loadgen SPEC.json OUT.json`` (``LoadSpec`` below, as JSON) so the
process that measures the platform never shares an event loop or a core with the one that
loads it. Orders go out in batches (``POST /v1/orders/batch``) or one by one
(``POST /v1/orders``), at full speed (``rate`` 0) or paced to ``rate`` orders/s.

Every answer's status code is counted. A 503 or 429 is retried after its ``Retry-After``, a
refused connection after a short pause, so no order is lost while a dependency is down; any
other status is recorded and the order is given up. The output holds, for each accepted order,
the wall-clock time its acceptance reached the client, which latency figures start from.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import orjson

from orderflow_testkit.samples import amazon_order

RETRYABLE = {429, 503}


@dataclass
class LoadSpec:
    url: str
    api_key: str
    orders: int
    id_prefix: str
    mode: str = "batch"  # "batch" or "single"
    batch_size: int = 500
    rate: float = 0.0  # orders/s; 0 is full speed
    in_flight: int = 4
    give_up_after_s: float = 600.0


@dataclass
class LoadResult:
    started: float = 0.0
    finished: float = 0.0
    accepted: dict[str, float] = field(default_factory=dict)
    request_latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    given_up: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)


def order_ids(prefix: str, n: int) -> list[str]:
    """``n`` distinct Amazon-shaped ids (``3-7-7`` digits); ``prefix`` is 7 digits of the run."""
    return [f"{100 + i % 900}-{prefix}-{i:07d}" for i in range(n)]


def build_orders(prefix: str, n: int) -> list[bytes]:
    """One JSON document per order (kept as bytes: batches are joined, not re-encoded)."""
    return [orjson.dumps(amazon_order(amazon_order_id=oid)) for oid in order_ids(prefix, n)]


class LoadGenerator:
    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.result = LoadResult()
        self._headers = {
            "Authorization": f"Bearer {spec.api_key}",
            "Content-Type": "application/json",
        }

    async def run(self, bodies: list[bytes], ids: list[str]) -> LoadResult:
        spec = self.spec
        size = spec.batch_size if spec.mode == "batch" else 1
        chunks = [(ids[i : i + size], bodies[i : i + size]) for i in range(0, len(ids), size)]
        limits = httpx.Limits(
            max_connections=spec.in_flight, max_keepalive_connections=spec.in_flight
        )
        gate = asyncio.Semaphore(spec.in_flight)
        async with httpx.AsyncClient(base_url=spec.url, limits=limits, timeout=120) as client:
            self.result.started = time.time()
            t0 = time.perf_counter()
            tasks = []
            for n, chunk in enumerate(chunks):
                if spec.rate > 0:
                    due = t0 + n * size / spec.rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await gate.acquire()
                task = asyncio.create_task(self._send(client, *chunk))
                task.add_done_callback(lambda _t: gate.release())
                tasks.append(task)
            await asyncio.gather(*tasks)
            self.result.finished = time.time()
        return self.result

    async def _send(self, client: httpx.AsyncClient, ids: list[str], bodies: list[bytes]) -> None:
        spec = self.spec
        if spec.mode == "batch":
            path, content = "/v1/orders/batch", b'{"orders":[' + b",".join(bodies) + b"]}"
        else:
            path, content = "/v1/orders", bodies[0]
        deadline = time.monotonic() + spec.give_up_after_s
        while True:
            started = time.perf_counter()
            try:
                response = await client.post(path, content=content, headers=self._headers)
            except httpx.TransportError as exc:
                self.result.statuses[type(exc).__name__] += 1
                if time.monotonic() > deadline:
                    self.result.given_up += ids
                    return
                self.result.retries += 1
                await asyncio.sleep(0.5)
                continue
            self.result.statuses[str(response.status_code)] += 1
            if response.status_code in RETRYABLE and time.monotonic() < deadline:
                self.result.retries += 1
                await asyncio.sleep(_retry_after(response))
                continue
            break
        now = time.time()
        self.result.request_latencies.append(time.perf_counter() - started)
        if response.status_code >= 300:
            self.result.given_up += ids
            self.result.unexpected.append(f"{response.status_code} {response.text[:300]}")
            return
        if spec.mode == "batch":
            for entry in response.json()["results"]:
                if entry["result"] == "rejected":
                    self.result.given_up.append(ids[entry["index"]])
                    self.result.unexpected.append(json.dumps(entry)[:300])
                else:
                    self.result.accepted[ids[entry["index"]]] = now
        else:
            self.result.accepted[ids[0]] = now


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.05, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def main() -> None:
    spec = LoadSpec(**json.loads(Path(sys.argv[1]).read_text()))
    ids = order_ids(spec.id_prefix, spec.orders)
    bodies = build_orders(spec.id_prefix, spec.orders)
    print("ready", flush=True)  # orders are built: the clock starts now
    import uvloop

    result = uvloop.run(LoadGenerator(spec).run(bodies, ids))
    out = asdict(result)
    out["statuses"] = dict(result.statuses)
    Path(sys.argv[2]).write_bytes(orjson.dumps(out))


if __name__ == "__main__":
    main()


class LoadProcess:
    """The load generator as a child process: ``start`` returns once its orders are built."""

    def __init__(self, spec: LoadSpec, work_dir: Path) -> None:
        import subprocess

        work_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{spec.id_prefix}-{spec.mode}-{int(spec.rate)}"
        self.spec_file = work_dir / f"load-{stamp}.spec.json"
        self.out_file = work_dir / f"load-{stamp}.out.json"
        self.out_file.unlink(missing_ok=True)
        self.spec_file.write_text(json.dumps(asdict(spec)))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.loadgen", str(self.spec_file), str(self.out_file)],
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != b"ready":
            self.proc.kill()
            raise RuntimeError(f"load generator failed to start: {line!r}")

    def running(self) -> bool:
        return self.proc.poll() is None

    async def wait(self) -> LoadResult:
        await asyncio.to_thread(self.proc.wait)
        if self.proc.returncode != 0:
            raise RuntimeError(f"load generator exited with {self.proc.returncode}")
        found = orjson.loads(self.out_file.read_bytes())
        return LoadResult(**{**found, "statuses": Counter(found["statuses"])})
