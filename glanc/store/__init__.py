"""The store: every model call's result by content hash, in DuckDB, and its text
form, the lock. The build's coordinator is its only writer; plan, check and gc
open it read-only or read what it holds.
"""

from .nodes import Store
from .records import Record, SlotRecord, StageAverages

__all__ = ["Record", "SlotRecord", "StageAverages", "Store"]
