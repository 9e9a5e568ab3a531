"""ElasticMQ, an SQS-compatible message queue server, run from the jars that infra/elasticmq's
lock file lists (devstack.jars) with the Java that Kafka uses (devstack.java).

Amazon delivers SP-API notifications to an SQS queue; locally and in tests that queue lives
here and is reached over the SQS protocol (docs/adr/0044-elasticmq-for-sqs.md).
"""

from __future__ import annotations

import http.client
import logging
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from devstack.config import ELASTICMQ_VERSION, SQS_ACCOUNT, SQS_QUEUE, SQS_REGION
from devstack.errors import DevstackError, port_taken
from devstack.jars import Artifact, ensure_libs
from devstack.java import find_java
from devstack.lock import file_lock
from devstack.proc import (
    log_tail,
    pid_alive,
    port_open,
    read_pid,
    spawn_detached,
    terminate,
    wait_until,
)

log = logging.getLogger(__name__)

ELASTICMQ = Artifact("elasticmq", "ElasticMQ", ELASTICMQ_VERSION)
START_TIMEOUT_S = 60.0
_MAIN = "org.elasticmq.server.Main"


def ensure_elasticmq_libs(stream: TextIO | None = None) -> Path:
    """Download ElasticMQ's runtime jars into the per-machine cache once; return the directory."""
    return ensure_libs(ELASTICMQ, stream)


def sqs_answers(endpoint: str, timeout: float = 2.0) -> bool:
    """True if ``endpoint`` answers the SQS query protocol's ListQueues with 200."""
    url = f"{endpoint}/?Action=ListQueues&Version=2012-11-05"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status) == 200 and b"ListQueuesResponse" in response.read()
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        return False


class ElasticMQServer:
    """ElasticMQ on 127.0.0.1:``port`` with ``queues`` created at start.

    ``fresh`` (tests): messages live in memory only. Otherwise (``make up``) queues and their
    messages are kept in ``run_dir/data`` (H2), so notifications received before ``make down``
    are still there after the next ``make up``.
    """

    def __init__(
        self,
        run_dir: Path,
        port: int,
        *,
        queues: tuple[str, ...] = (SQS_QUEUE,),
        fresh: bool = False,
    ) -> None:
        self.run_dir = run_dir.resolve()
        self.port = port
        self.queues = queues
        self.fresh = fresh

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue_url(self, name: str = SQS_QUEUE) -> str:
        return f"{self.endpoint}/{SQS_ACCOUNT}/{name}"

    @staticmethod
    def queue_arn(name: str = SQS_QUEUE) -> str:
        return f"arn:aws:sqs:{SQS_REGION}:{SQS_ACCOUNT}:{name}"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "elasticmq.pid"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "logs" / "elasticmq.log"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def config_file(self) -> Path:
        return self.run_dir / "elasticmq.conf"

    def is_running(self) -> bool:
        """Our process is alive and answers the SQS protocol."""
        pid = read_pid(self.pid_file)
        return pid is not None and pid_alive(pid) and sqs_answers(self.endpoint)

    def start(self, timeout: float = START_TIMEOUT_S) -> bool:
        """Start ElasticMQ unless ours already runs; True if this call started it."""
        started = self.begin()
        if started:
            self.wait_ready(timeout)
        return started

    def begin(self) -> bool:
        """Spawn the server unless ours already runs, without waiting for it to answer
        (``make up`` waits for it after Kafka and PostgreSQL); True if this call spawned it."""
        with file_lock(self.run_dir / ".lock"):
            if self.is_running():
                log.info("ElasticMQ already running on %s", self.endpoint)
                return False
            self._launch()
            return True

    def _launch(self) -> None:
        self._check_port_free()
        if self.fresh:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        libs = ensure_elasticmq_libs()
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config())
        cmd = [
            find_java(),
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dconfig.file={self.config_file}",
            "-cp",
            f"{libs}/*",
            _MAIN,
        ]
        pid = spawn_detached(cmd, pid_file=self.pid_file, log_file=self.log_file, cwd=self.run_dir)
        log.info("ElasticMQ starting (pid %d) on %s", pid, self.endpoint)

    def stop(self, grace: float = 15.0) -> None:
        with file_lock(self.run_dir / ".lock"):
            pid = read_pid(self.pid_file)
            if pid is not None:
                log.info("stopping ElasticMQ (pid %d)", pid)
                terminate(pid, grace)
            self.pid_file.unlink(missing_ok=True)

    def config(self) -> str:
        """ElasticMQ's HOCON configuration (its README's keys)."""
        queues = "\n".join(
            f'  "{name}" {{ defaultVisibilityTimeout = 30 seconds, '
            f"receiveMessageWait = 0 seconds }}"
            for name in self.queues
        )
        storage = (
            ""
            if self.fresh
            else (
                f'queues-storage {{ enabled = true, path = "{self.data_dir / "queues.conf"}" }}\n'
                f"messages-storage {{ enabled = true, "
                f'uri = "jdbc:h2:{self.data_dir / "messages"}" }}\n'
            )
        )
        return (
            'include classpath("application.conf")\n'
            f"node-address {{ protocol = http, host = 127.0.0.1, port = {self.port}, "
            'context-path = "" }\n'
            f'rest-sqs {{ enabled = true, bind-port = {self.port}, bind-hostname = "127.0.0.1", '
            "sqs-limits = strict }\n"
            "rest-stats { enabled = false }\n"
            "generate-node-address = false\n"
            f'aws {{ region = "{SQS_REGION}", accountId = "{SQS_ACCOUNT}" }}\n'
            f"queues {{\n{queues}\n}}\n" + storage
        )

    def _check_port_free(self) -> None:
        pid = read_pid(self.pid_file)
        if pid is not None and pid_alive(pid):
            log.warning("ElasticMQ pid %d alive but not answering; restarting it", pid)
            terminate(pid, 10.0)
        if port_open(self.port):
            raise port_taken(self.port, "ElasticMQ", "SQS_PORT")

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        pid = read_pid(self.pid_file)
        started = time.monotonic()

        def ready() -> bool:
            if pid is None or not pid_alive(pid):
                raise self._did_not_start("it exited")
            return sqs_answers(self.endpoint, timeout=1.0)

        if not wait_until(ready, timeout, 0.2):
            raise self._did_not_start(f"no answer on {self.endpoint} within {timeout:.0f}s")
        log.info("ElasticMQ ready on %s in %.1fs", self.endpoint, time.monotonic() - started)

    def _did_not_start(self, why: str) -> DevstackError:
        tail = log_tail(self.log_file, 15)
        errors = [line for line in tail.splitlines() if "ERROR" in line or "Exception" in line]
        last = errors[-1].strip() if errors else why
        return DevstackError(
            f"ElasticMQ did not start on {self.endpoint} ({why}): {last[:300]}",
            f"read {self.log_file} (last lines below); ORDERFLOW_SQS=0 runs the platform "
            "without it",
            tail,
        )
