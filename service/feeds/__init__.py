"""Domain feeds: newly-registered-domain lists and zone files, each processed once."""
