"""Orderflow's shared contracts and plumbing.

Holds no business rule and never imports from ``services/``.
"""
