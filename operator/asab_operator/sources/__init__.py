"""Sources: Kubernetes objects in, advertisement records out (pure functions)."""
