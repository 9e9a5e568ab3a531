"""The event contract's AsyncAPI document: current, complete, valid, served by every service.

Validation uses the AsyncAPI initiative's own JSON Schema for 3.0.0 (npm ``@asyncapi/specs``,
pinned in infra/asyncapi/specs.lock and cached per machine), so no Node is needed; when Node
and ``@asyncapi/parser`` are installed (``make asyncapi-parser``) the parser checks it too.
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from cryptography.fernet import Fernet

from devstack import asyncapi as specs
from devstack.paths import cache_root
from shared import topics
from shared.events import asyncapi
from shared.events.registry import BY_TOPIC, PAYLOADS
from shared.runtime import open_resources

from .conftest import order_event

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "events" / "asyncapi.json"
PARSER_DIR = cache_root() / "npm" / "asyncapi-parser"
# Run from PARSER_DIR, so that the import resolves to the parser installed there.
PARSE = """
import { Parser } from '@asyncapi/parser';
import { readFileSync } from 'node:fs';
const text = readFileSync(process.argv[1], 'utf8');
const { document, diagnostics } = await new Parser().parse(text);
for (const d of diagnostics.filter((d) => d.severity === 0)) {
  console.log(d.code, JSON.stringify(d.path), d.message);
}
process.exit(document ? 0 : 1);
"""


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi.document()


@pytest.fixture(scope="module")
def official() -> jsonschema.Draft7Validator:
    schema = json.loads(specs.schema_file().read_text())
    return jsonschema.Draft7Validator(schema)


def _errors(validator: jsonschema.Draft7Validator, document: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]


@pytest.mark.unit
def test_the_committed_document_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == asyncapi.render(), (
        "docs/events/asyncapi.json is stale: run `make asyncapi` and commit it"
    )


@pytest.mark.unit
def test_every_message_type_of_every_topic_is_in_its_channel(document: dict[str, Any]) -> None:
    channels, messages = document["channels"], document["components"]["messages"]
    assert set(BY_TOPIC) == {*topics.ALL, topics.ANALYTICS}
    assert sum(map(len, BY_TOPIC.values())) == len(PAYLOADS)  # no type on two topics
    for topic, payloads in BY_TOPIC.items():
        channel = channels[topic]
        assert channel["address"] == f"{{prefix}}{topic}"
        assert set(channel["messages"]) == set(payloads)
        for event_type, model in payloads.items():
            narrowed = messages[event_type]["payload"]["allOf"][1]["properties"]
            assert narrowed["type"] == {"const": event_type}
            assert narrowed["dataschema"] == {"const": f"urn:orderflow:{topic}:{event_type}:1"}
            assert narrowed["data"] == {"$ref": f"#/components/schemas/{model.__name__}"}
            assert messages[event_type]["bindings"]["kafka"]["key"]["type"] == "string"


@pytest.mark.unit
def test_operations_match_what_each_service_publishes_and_consumes(
    document: dict[str, Any],
) -> None:
    operations = document["operations"]
    for service in asyncapi.SERVICES:
        spec = importlib.import_module(f"{service.name}.bootstrap").SPEC
        assert (set(spec.publishes), set(spec.subscribes)) == (
            set(service.publishes),
            set(service.subscribes),
        ), f"{service.name}: shared.events.asyncapi.SERVICES disagrees with its bootstrap.SPEC"
        for topic in service.publishes:
            assert operations[f"{service.name}.send.{topic}"]["action"] == "send"
        for topic in service.subscribes:
            assert operations[f"{service.name}.receive.{topic}"]["action"] == "receive"
            dlq = topics.dead_letter_topic(topic)
            assert operations[f"{service.name}.send.{dlq}"]["channel"] == {
                "$ref": f"#/channels/{dlq}"
            }


@pytest.mark.unit
def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = list(_refs(document))
    assert len(refs) > len(PAYLOADS)
    for ref in refs:
        node: Any = document
        for token in ref.removeprefix("#/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


@pytest.mark.unit
def test_the_schema_lock_names_one_pinned_tarball() -> None:
    package = specs.parse_lock(specs.lock_file().read_text())
    assert package.url(specs.REGISTRY) == (
        f"https://registry.npmjs.org/@asyncapi/specs/-/specs-{package.version}.tgz"
    )
    with pytest.raises(ValueError, match="one line"):
        specs.parse_lock("@asyncapi/specs 6.11.1 1 not-a-sha\n")


@pytest.mark.unit
def test_a_real_event_matches_its_message_schema(document: dict[str, Any]) -> None:
    event = json.loads(order_event("111-2222222-3333333", version=3).to_bytes())
    root = {**document, "$ref": "#/components/messages/order.updated/payload"}
    jsonschema.Draft202012Validator(root).validate(event)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(root).validate({**event, "type": "order.created"})


@pytest.mark.integration  # downloads the official schema once per machine
def test_the_document_validates_against_the_official_schema(
    official: jsonschema.Draft7Validator, document: dict[str, Any]
) -> None:
    assert _errors(official, document) == []


BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "an operation's action": lambda d: d["operations"]["ingest.send.orders.v1"].update(
        action="publish"
    ),
    "a channel's address": lambda d: d["channels"]["orders.v1"].update(address=7),
    "the kafka key binding": lambda d: d["components"]["messages"]["order.created"]["bindings"][
        "kafka"
    ].update(key="subject"),
    "an unknown top-level field": lambda d: d.update(topics=[]),
    "the spec version": lambda d: d.update(asyncapi="2.6.0"),
}


@pytest.mark.integration
@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_document_fails_validation(
    official: jsonschema.Draft7Validator, document: dict[str, Any], breakage: str
) -> None:
    broken = copy.deepcopy(document)
    BREAKAGES[breakage](broken)
    assert _errors(official, broken) != []


@pytest.mark.unit
@pytest.mark.parametrize("service", [s.name for s in asyncapi.SERVICES])
async def test_every_service_serves_the_document_without_a_key(service: str) -> None:
    spec = importlib.import_module(f"{service}.bootstrap").SPEC
    settings_module = importlib.import_module(f"{service}.settings")
    settings_class = getattr(settings_module, f"{service.capitalize()}Settings")
    settings = settings_class(service_name=service, pii_key=Fernet.generate_key().decode())
    async with open_resources(spec, settings) as resources:
        transport = httpx.ASGITransport(app=spec.build_app(resources))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == COMMITTED.read_text()


@pytest.mark.integration
@pytest.mark.skipif(
    shutil.which("node") is None or not (PARSER_DIR / "node_modules" / "@asyncapi").is_dir(),
    reason="needs node and @asyncapi/parser (make asyncapi-parser)",
)
def test_the_official_parser_accepts_the_document(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(COMMITTED.read_text().replace('"action": "send"', '"action": "emit"', 1))
    for path, ok in ((COMMITTED, True), (broken, False)):
        result = subprocess.run(
            ["node", "--input-type=module", "-e", PARSE, str(path)],
            cwd=PARSER_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
            check=False,
        )
        assert (result.returncode == 0) == ok, result.stdout + result.stderr
