"""Ingestion pipelines: fetch from a source, score, record alerts and advance the cursor at once."""
