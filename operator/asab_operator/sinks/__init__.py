"""Sinks: the only code that writes to ZooKeeper or Kubernetes."""
