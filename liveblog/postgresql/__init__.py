"""Django's PostgreSQL backend with a client-side deadline for a server that stops answering (base.py)."""
