"""Amazon Selling Partner API: LWA tokens, throttled HTTP, the Orders readers (v2026 and v0)."""
