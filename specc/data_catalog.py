"""The named datasets, as ``specc check`` sees them: a re-export of the harness's catalogue.

The one list lives in ``specc/harness/catalog.py`` (pure Python, copied into run folders);
this module keeps the name that the passes and the train-section reader import.
"""

from __future__ import annotations

from specc.harness.catalog import (
    CATALOG,
    DEFAULT_DATA,
    OPEN_NAMES,
    OPEN_PREFIXES,
    DatasetInfo,
    data_tasks,
    is_known_source,
    lookup,
    source_names,
)

__all__ = [
    "CATALOG",
    "DEFAULT_DATA",
    "OPEN_NAMES",
    "OPEN_PREFIXES",
    "DatasetInfo",
    "data_tasks",
    "is_known_source",
    "lookup",
    "source_names",
]
