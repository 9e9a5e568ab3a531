"""Defects: A-to-z claims, chargebacks and negative feedback; publishes ``defects.v1``."""
