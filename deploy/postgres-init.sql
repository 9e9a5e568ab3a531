-- One database per service (docker-compose's PostgreSQL runs this once, on first start).
CREATE DATABASE orderflow_ingest;
CREATE DATABASE orderflow_fulfillment;
CREATE DATABASE orderflow_defects;
CREATE DATABASE orderflow_analytics;
