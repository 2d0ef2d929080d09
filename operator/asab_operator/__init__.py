"""asab-discovery-operator: Kubernetes workloads in ASAB service discovery."""
__version__ = "0.1.0"
