"""Protected brands: their official domains, keywords and allowlists."""
