"""Prometheus metrics, with conventional names (`asab_operator_*`)."""
from prometheus_client import Counter, Gauge, Histogram

ADVERTISEMENTS = Gauge("asab_operator_advertisements", "Objects advertised into ZooKeeper, by source kind",
                       ["source"])
INVALID_OBJECTS = Gauge("asab_operator_invalid_objects", "Annotated objects not advertised because of bad input",
                        ["source"])
ZOOKEEPER_WRITES = Counter("asab_operator_zookeeper_writes_total", "Writes to ZooKeeper, by operation", ["op"])
ZOOKEEPER_CONNECTED = Gauge("asab_operator_zookeeper_connected", "1 while the ZooKeeper session is connected")
RECONCILE_SECONDS = Histogram("asab_operator_reconcile_duration_seconds",
                              "Duration of a full reconcile of /<path>/run")
ERRORS = Counter("asab_operator_errors_total", "Errors, by kind", ["kind"])
LEADER = Gauge("asab_operator_leader", "1 while this replica is the leader (the one that writes)")
KEY_VALID = Gauge("asab_operator_internal_key_valid", "1 when the internal auth key node holds a valid key")
KEY_ROTATIONS = Counter("asab_operator_internal_key_rotations_total", "Rotations of the internal auth key")
PROJECTED_SERVICES = Gauge("asab_operator_projected_services", "Headless Services projected from ZooKeeper")
KUBERNETES_WRITES = Counter("asab_operator_kubernetes_writes_total",
                            "Writes to Kubernetes by projection, by kind and operation", ["kind", "op"])
