"""Phantom discovery in the service: probe runs, ranked hallucinated names, their watch."""
