"""The Glue provider: one method per operation, named as botocore's ``xform_name`` names it."""

from __future__ import annotations

from findmatches.config import Settings
from findmatches.service.catalog import CatalogOperations
from findmatches.service.transforms import TransformOperations
from findmatches.store.database import Database


class GlueProvider(CatalogOperations, TransformOperations):
    """Every implemented Glue operation; ``dispatch`` finds them by snake_case name."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def close(self) -> None:
        """Stop background work (task runs)."""
