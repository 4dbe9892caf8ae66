"""Namespace for the backend services; ``backend.analytics`` is the anomaly-detection core."""
