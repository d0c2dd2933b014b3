"""``loaded_events``: the batch's good events in PostgreSQL, loaded exactly once (EmrEtlRunner's
``rdb_load``), and the blocking check that the database holds what enrichment counted.

Present in the Definitions only when a target is configured (``loading_definitions``). It depends
on ``enriched_events`` only: archiving the raw files does not wait for it, as in EmrEtlRunner,
where archive_raw ran before rdb_load and a failed load left the archive done.
"""

import dagster as dg

from snowplow_dagster.assets.enriched import enriched_events, output_folders, read_counts
from snowplow_dagster.constants import LOADED_GROUP
from snowplow_dagster.loading.postgres import LoadError, count_loaded, load_batch
from snowplow_dagster.loading.tables import EVENTS_TABLE
from snowplow_dagster.loading.warehouse import PostgresWarehouse
from snowplow_dagster.partitions import batches
from snowplow_dagster.resources import SnowplowPipeline

_TABLES_SCHEMA = dg.TableSchema(
    columns=[dg.TableColumn("table", "string"), dg.TableColumn("rows", "int")]
)


@dg.asset(partitions_def=batches, group_name=LOADED_GROUP, deps=[enriched_events])
def loaded_events(
    context: dg.AssetExecutionContext, pipeline: SnowplowPipeline, warehouse: PostgresWarehouse
) -> dg.MaterializeResult:
    """Replace the batch's rows in ``<schema>.events`` and its context tables with its enriched
    good output, in one transaction with its manifest row."""
    batch = context.partition_key
    target = warehouse.target()
    good, _ = output_folders(pipeline.config, batch)
    context.log.info(f"Loading {good.uri} into {target.describe()}")
    with warehouse.connect() as connection:
        try:
            report = load_batch(connection, target.schema, batch, pipeline.storage(), good)
        except LoadError as error:
            raise dg.Failure(
                f"Batch {batch} not loaded (nothing of it was kept): {error}"
            ) from None
    tables = {f"{target.schema}.{EVENTS_TABLE}": report.events} | {
        f"{target.schema}.{table}": rows for table, rows in report.tables.items()
    }
    return dg.MaterializeResult(
        metadata={
            "events": dg.MetadataValue.int(report.events),
            "rows_by_table": dg.MetadataValue.table(
                [dg.TableRecord({"table": t, "rows": r}) for t, r in tables.items()],
                schema=_TABLES_SCHEMA,
            ),
            "replaced_rows": dg.MetadataValue.int(report.replaced_events),
            "files": dg.MetadataValue.int(report.files),
            "etl_tstamp": dg.MetadataValue.text(report.etl_tstamp or ""),
            "duration_seconds": dg.MetadataValue.float(round(report.seconds, 3)),
            "target": dg.MetadataValue.text(target.describe()),
        }
    )


@dg.asset_check(asset=loaded_events, blocking=True, partitions_def=batches)
def loaded_rows(
    context: dg.AssetCheckExecutionContext,
    pipeline: SnowplowPipeline,
    warehouse: PostgresWarehouse,
) -> dg.AssetCheckResult:
    """Rows in ``events`` for the batch = good events in the enrichment's counts file."""
    batch = context.partition_key
    counts = read_counts(pipeline.storage(), pipeline.config, batch)
    with warehouse.connect() as connection:
        loaded = count_loaded(connection, warehouse.target().schema, batch)
    return dg.AssetCheckResult(
        passed=loaded == counts.good_events,
        metadata={
            "good_events": dg.MetadataValue.int(counts.good_events),
            "loaded_rows": dg.MetadataValue.int(-1 if loaded is None else loaded),
        },
        description=None if loaded is not None else f"batch {batch} is not in the load manifest",
    )


loading_assets = [loaded_events]
loading_checks = [loaded_rows]
