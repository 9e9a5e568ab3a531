"""Ingest: takes orders in (Amazon's shapes), quarantines bad input, publishes ``orders.v1``."""
