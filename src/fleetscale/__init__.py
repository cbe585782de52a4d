"""fleetscale: an autoscaler for fleets outside Kubernetes, with a trace-replay simulator."""

__version__ = "0.1.0"
