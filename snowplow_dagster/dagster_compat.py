"""The names we use from Dagster's private ``dagster._core``, in one place.

Dagster's public API has no equivalent for any of them in 1.13, and a private module may move in
a minor release; importing them only here keeps such a break to one file and one test run.

- ``PartitionKeyFilter``: ``EventLogStorage.get_latest_asset_check_execution_by_key`` (public
  method) takes it to ask for one batch's check evaluations; ``passes.still_to_run`` needs them to
  tell a done asset from one whose blocking check failed.
- ``AssetCheckExecutionRecordStatus``: the status type of what that method returns.
- ``SqliteRunStorage``: whether runs are stored on this host (the embedded SQLite default), so
  ``cli.owners`` may judge a run's owner by its pid here; a shared run storage (PostgreSQL) may
  hold other machines' runs.
- ``EventLogStorage``, ``PoolLimit``, ``PoolGranularity``: ``pools.py`` claims and frees pool
  slots itself (Dagster's in-process executor waits for a slot in a loop that never sleeps, and
  only the daemon frees the slots of dead runs); these are the storage's own types for it.
- ``UnresolvedAssetJobDefinition``: what ``define_asset_job`` returns, the type of the job a
  sensor is built for (``sensors.build_in_bucket_sensor``).
"""

from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.instance.config import PoolGranularity
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.base import EventLogStorage, PoolLimit
from dagster._core.storage.runs import SqliteRunStorage

__all__ = [
    "AssetCheckExecutionRecordStatus",
    "EventLogStorage",
    "PartitionKeyFilter",
    "PoolGranularity",
    "PoolLimit",
    "SqliteRunStorage",
    "UnresolvedAssetJobDefinition",
]
