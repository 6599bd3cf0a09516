"""Per-log Certificate Transparency state: the resumable cursor, verification and health."""
