"""The store: SQLAlchemy 2 models, engine set-up and idempotent ingestion."""

from warning.store.engine import Store, make_engine
from warning.store.models import Base

__all__ = ["Base", "Store", "make_engine"]
