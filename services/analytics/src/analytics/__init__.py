"""Analytics: read models over every topic (sales, account health, ads, trace, ops, dashboard)."""
