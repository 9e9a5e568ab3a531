"""Orderflow fulfillment: the seller's Manage Orders."""
