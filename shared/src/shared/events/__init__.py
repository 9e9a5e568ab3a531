"""Versioned event payloads: the contract between Orderflow's services.

Each module holds one topic's events. ``registry`` maps an event type to its payload model,
``build_event`` wraps a payload into the envelope and ``parse_event`` does the reverse, raising
``UnknownEventType`` or ``pydantic.ValidationError`` for what a consumer must dead-letter.
"""
