"""API keys: hashed secrets, scopes, and the FastAPI dependencies that enforce them."""
