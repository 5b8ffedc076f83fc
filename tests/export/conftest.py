from __future__ import annotations

from tests.results.conftest import container, store

__all__ = ["container", "store"]
