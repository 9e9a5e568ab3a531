"""ElasticMQ, an SQS-compatible message queue server, run from the jars that infra/elasticmq's
lock file lists (devstack.jars) with the Java that Kafka uses (devstack.java).

Amazon delivers SP-API notifications to an SQS queue; locally and in tests that queue lives
here and is reached over the SQS protocol (docs/adr/0044-elasticmq-for-sqs.md).
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO

from devstack.config import ELASTICMQ_VERSION, SQS_ACCOUNT, SQS_QUEUE, SQS_REGION
from devstack.jars import Artifact, ensure_libs
from devstack.java import JavaServer, find_java

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


class ElasticMQServer(JavaServer):
    """ElasticMQ on 127.0.0.1:``port`` with ``queues`` created at start.

    ``fresh`` (tests): messages live in memory only. Otherwise (``make up``) queues and their
    messages are kept in ``run_dir/data`` (H2), so notifications received before ``make down``
    are still there after the next ``make up`` (which calls ``begin``, and waits for it after
    Kafka and PostgreSQL).
    """

    start_timeout = START_TIMEOUT_S
    stop_grace = 15.0
    restart_grace = 10.0
    poll_interval = 0.2
    start_hint = "ORDERFLOW_SQS=0 runs the platform without it"

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
    def name(self) -> str:
        return "ElasticMQ"

    @property
    def where(self) -> str:
        return self.endpoint

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
    def config_file(self) -> Path:
        return self.run_dir / "elasticmq.conf"

    def answers(self, timeout: float | None = None) -> bool:
        return sqs_answers(self.endpoint, 2.0 if timeout is None else timeout)

    def ports(self) -> list[tuple[int, str]]:
        return [(self.port, "SQS_PORT")]

    def _launch(self) -> None:
        libs = ensure_elasticmq_libs()
        self.config_file.parent.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config())
        self._spawn(
            [
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
        )

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
