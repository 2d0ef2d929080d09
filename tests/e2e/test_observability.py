"""Health, readiness, Prometheus metrics and structured logs of a running operator."""
from __future__ import annotations

import json
import uuid

import harness
from harness import eventually, http_json


def test_health_metrics_and_json_logs(env, log_dir, ns):
    path = f"obs-{uuid.uuid4().hex[:8]}"
    operator = harness.Operator(env, log_dir, "--zookeeper-path", path, "--cluster-id", path,
                                "--log-format", "json", name=path)
    try:
        operator.wait_ready()
        assert http_json(operator.url("/healthz")) == (200, "ok\n")
        # ready as soon as it is warm, a standby too; alone, it wins the election right after
        eventually(lambda: http_json(operator.url("/readyz"))[1]["leader"], what="the leadership in /readyz")
        assert http_json(operator.url("/readyz")) == (200, {"ready": True, "leader": True, "checks": {
            "kubernetes_synced": True, "zookeeper_connected": True}})
        env.create_pod(ns, "m", {"discovery.asab/service-id": "m"})
        env.set_ready(ns, "m", "127.0.7.40")
        eventually(lambda: operator.metric("asab_operator_zookeeper_writes_total", 'op="create"') >= 1,
                   what="a create counted")
        _, text = http_json(operator.url("/metrics"))
        for name in ("asab_operator_advertisements{source=\"Pod\"}", "asab_operator_zookeeper_connected 1.0",
                     "asab_operator_reconcile_duration_seconds_count", "asab_operator_errors_total",
                     "asab_operator_invalid_objects", "asab_operator_leader 1.0"):
            assert name in text, name
        lines = [line for line in operator.log().splitlines() if line.strip()]
        records = [json.loads(line) for line in lines if line.startswith("{")]
        assert records and len(records) == len(lines), "every log line is one JSON object"
        assert {"time", "level", "name", "message"} <= set(records[0])
        assert any("cluster identity" in r["message"] for r in records)
    finally:
        operator.stop()
