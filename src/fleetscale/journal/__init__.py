"""Journal sinks: every cycle of every pool is recorded (structured log, SQL, Elasticsearch,
Prometheus)."""
