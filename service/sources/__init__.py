"""Sources of candidate names: Certificate Transparency logs (and, later, DNS and feeds)."""
