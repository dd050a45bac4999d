"""Webhooks: signed HTTP deliveries of punches, final records, anomalies and approvals to other systems."""
