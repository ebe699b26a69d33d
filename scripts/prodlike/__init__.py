"""A local production-like run: `make prod`, or `python -m scripts.prodlike --help`.

The same shape as docker-compose.yml, from Debian packages: nginx (deploy/nginx/) in front of N
Daphne workers, PostgreSQL and Redis on 127.0.0.1. `ProdLike` is also a context manager for tests.
"""

from scripts.prodlike.run import WORKER_HEADER, ProdLike, default_workers

__all__ = ["WORKER_HEADER", "ProdLike", "default_workers"]
