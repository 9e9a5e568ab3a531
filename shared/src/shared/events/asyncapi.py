"""The event contract as an AsyncAPI 3.0.0 document, built from the event models.

- One channel per topic (``address``: ``{prefix}<topic>``, the prefix being the run's
  ``KAFKA_TOPIC_PREFIX``) listing every event type the topic carries (``registry.BY_TOPIC``),
  and one ``<topic>.dlq`` channel per consumed topic for its dead letters.
- Events travel as CloudEvents 1.0 in structured mode: the Kafka record's value is the whole
  envelope (``components.schemas.CloudEvent``), each message narrowing ``type``,
  ``dataschema`` (which ends with the schema version) and ``data`` (the payload model's JSON
  schema, as serialized). The record's key is the event's ``subject`` (Kafka message binding).
- ``send`` and ``receive`` operations per service, from ``SERVICES``; a test checks that table
  against each service's ``bootstrap.SPEC``.

The output is deterministic: ``python -m shared.events.asyncapi`` writes
``docs/events/asyncapi.json`` (``make asyncapi``) and a test checks the committed file is
current. Every service serves the same document at ``GET /asyncapi.json``.
"""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared import topics
from shared.events.registry import BY_TOPIC, MODULES, SCHEMA_VERSION
from shared.messaging.envelope import CloudEvent, schema_uri

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
CONTENT_TYPE = "application/cloudevents+json"
SCHEMA_REF = "#/components/schemas/{model}"
DEAD_LETTER = "DeadLetter"
DLQ_HEADERS = {
    "x-dlq-origin-topic": "the topic the message was read from",
    "x-dlq-origin-partition": "its partition",
    "x-dlq-origin-offset": "its offset",
    "x-dlq-service": "the service that could not apply it",
    "x-dlq-error-type": "the exception's class name",
    "x-dlq-error-message": "the reason, at most 500 characters",
    "x-dlq-attempts": "how many times the service tried",
    "x-dlq-failed-at": "when it gave up (ISO 8601)",
}


@dataclass(frozen=True)
class Service:
    name: str
    publishes: tuple[str, ...]
    subscribes: tuple[str, ...]


# Who sends and who receives what: must match each service's bootstrap.SPEC (tested).
SERVICES = (
    Service("ingest", publishes=(topics.ORDERS, topics.ADS), subscribes=(topics.FULFILLMENT,)),
    Service("fulfillment", publishes=(topics.FULFILLMENT,), subscribes=(topics.ORDERS,)),
    Service("defects", publishes=(topics.DEFECTS,), subscribes=(topics.ORDERS, topics.FULFILLMENT)),
    Service(
        "analytics",
        publishes=(topics.ANALYTICS,),
        subscribes=(topics.ORDERS, topics.FULFILLMENT, topics.DEFECTS, topics.ADS),
    ),
)


def document() -> dict[str, Any]:
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Orderflow events",
            "version": f"{SCHEMA_VERSION}.0.0",
            "description": (
                "The events Orderflow's services exchange over Kafka, as CloudEvents 1.0 in "
                "structured JSON mode. Generated from shared.events; see docs/events.md."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"kafka": _server()},
        "channels": _channels(),
        "operations": _operations(),
        "components": {
            "schemas": _schemas(),
            "messages": _messages(),
            "parameters": {"prefix": _prefix_parameter()},
        },
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- channels and operations ----------------------------------------------------------------


def _server() -> dict[str, Any]:
    return {
        "host": "{bootstrap}",
        "protocol": "kafka",
        "description": "The Kafka cluster every service talks to.",
        "variables": {
            "bootstrap": {
                "default": "127.0.0.1:9092",
                "description": "KAFKA_BOOTSTRAP_SERVERS",
            }
        },
    }


def _prefix_parameter() -> dict[str, Any]:
    return {
        "default": "",
        "description": "KAFKA_TOPIC_PREFIX: the run's prefix of every physical topic name",
    }


def _consumed() -> list[str]:
    return sorted({topic for s in SERVICES for topic in s.subscribes})


def _channels() -> dict[str, Any]:
    channels = {topic: _channel(topic) for topic in BY_TOPIC}
    for topic in _consumed():
        dlq = topics.dead_letter_topic(topic)
        channels[dlq] = {
            "address": f"{{prefix}}{dlq}",
            "title": dlq,
            "description": (
                f"Dead letters of {topic}: a message a consumer could not apply, with its "
                "original key and bytes and the x-dlq-* headers saying why."
            ),
            "parameters": {"prefix": {"$ref": "#/components/parameters/prefix"}},
            "messages": {DEAD_LETTER: {"$ref": f"#/components/messages/{DEAD_LETTER}"}},
        }
    return channels


def _channel(topic: str) -> dict[str, Any]:
    return {
        "address": f"{{prefix}}{topic}",
        "title": topic,
        "description": inspect.getdoc(MODULES[topic]) or topic,
        "parameters": {"prefix": {"$ref": "#/components/parameters/prefix"}},
        "messages": {
            event_type: {"$ref": f"#/components/messages/{event_type}"}
            for event_type in BY_TOPIC[topic]
        },
    }


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for service in SERVICES:
        for topic in service.publishes:
            operations[f"{service.name}.send.{topic}"] = _operation("send", service, topic)
        for topic in service.subscribes:
            operations[f"{service.name}.receive.{topic}"] = _operation("receive", service, topic)
            dlq = topics.dead_letter_topic(topic)
            operations[f"{service.name}.send.{dlq}"] = _operation("send", service, dlq)
    return operations


def _operation(action: str, service: Service, channel: str) -> dict[str, Any]:
    names = [DEAD_LETTER] if channel.endswith(topics.DLQ_SUFFIX) else list(BY_TOPIC[channel])
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{_escape(channel)}"},
        "summary": f"{service.name} {action}s on {channel}",
        "messages": [
            {"$ref": f"#/channels/{_escape(channel)}/messages/{_escape(name)}"} for name in names
        ],
    }


def _escape(name: str) -> str:
    """A JSON Pointer token (RFC 6901)."""
    return name.replace("~", "~0").replace("/", "~1")


# -- messages and schemas -------------------------------------------------------------------


def _messages() -> dict[str, Any]:
    messages = {
        event_type: _message(topic, event_type, model)
        for topic, payloads in BY_TOPIC.items()
        for event_type, model in payloads.items()
    }
    messages[DEAD_LETTER] = _dead_letter()
    return messages


def _message(topic: str, event_type: str, model: type[BaseModel]) -> dict[str, Any]:
    dataschema = schema_uri(topic, event_type, SCHEMA_VERSION)
    return {
        "name": event_type,
        "title": f"{event_type} (schema {SCHEMA_VERSION})",
        "summary": f"{event_type} on {topic}: a CloudEvent whose data is {model.__name__}",
        "contentType": CONTENT_TYPE,
        "payload": {
            "allOf": [
                {"$ref": SCHEMA_REF.format(model="CloudEvent")},
                {
                    "type": "object",
                    "required": ["type", "dataschema", "data"],
                    "properties": {
                        "type": {"const": event_type},
                        "dataschema": {"const": dataschema},
                        "data": {"$ref": SCHEMA_REF.format(model=_name(model))},
                    },
                },
            ]
        },
        "bindings": {"kafka": _key_binding()},
        "x-schema-version": SCHEMA_VERSION,
    }


def _dead_letter() -> dict[str, Any]:
    return {
        "name": DEAD_LETTER,
        "title": "A dead letter",
        "summary": "The original message's bytes (any, even not JSON) under its original key",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": sorted(DLQ_HEADERS),
            "properties": {
                name: {"type": "string", "description": what}
                for name, what in sorted(DLQ_HEADERS.items())
            },
        },
        "payload": {"description": "the bytes as read from the origin topic"},
        "bindings": {"kafka": _key_binding()},
    }


def _key_binding() -> dict[str, Any]:
    subject = dict(_schemas()["CloudEvent"]["properties"]["subject"])
    subject["description"] = (
        "The event's subject (see each topic's description): Kafka keeps one subject's "
        "events in order on one partition."
    )
    return {"key": subject, "bindingVersion": KAFKA_BINDING}


def _models() -> list[type[BaseModel]]:
    unique = {model for payloads in BY_TOPIC.values() for model in payloads.values()}
    return [CloudEvent, *sorted(unique, key=lambda m: (m.__module__, m.__qualname__))]


def _name(model: type[BaseModel]) -> str:
    return _schema_names()[model]


def _schema_names() -> dict[type[BaseModel], str]:
    keys, _ = _generated()
    return {model: ref.rsplit("/", 1)[-1] for (model, _mode), ref in _refs(keys).items()}


def _refs(keys: dict[tuple[Any, Any], Any]) -> dict[tuple[Any, Any], str]:
    return {key: str(value["$ref"]) for key, value in keys.items()}


def _schemas() -> dict[str, Any]:
    _, schemas = _generated()
    defs: dict[str, Any] = schemas["$defs"]
    return dict(sorted(defs.items()))


@cache
def _generated() -> tuple[dict[tuple[Any, Any], Any], dict[str, Any]]:
    return models_json_schema(
        [(model, "serialization") for model in _models()], ref_template=SCHEMA_REF
    )


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
