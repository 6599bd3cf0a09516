"""Alerts: one per (brand, domain), their lifecycle and audit trail."""
