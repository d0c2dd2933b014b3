"""The archive audit: a batch's raw archive holds exactly its manifest's objects, each once, as
claimed (size and ETag), and none of them is left in processing.

Archiving moves the objects out of processing, so the archive then holds the batch's only copy of
its raw data: ``assets.checks.archive_completeness`` runs this audit as a blocking check.
"""

from __future__ import annotations

from snowplow_dagster.batches.manifest import Manifest
from snowplow_dagster.batches.moves import run_folder
from snowplow_dagster.storage import Location, Storage, is_copy_of


def archive_problems(
    storage: Storage, manifest: Manifest, archive: Location, processing: Location
) -> dict[str, list[str]]:
    """What keeps the batch's ``run=<id>/`` folder of ``archive`` from being its manifest, by
    kind, each naming the objects' paths under ``run=<id>/``; none when the archive is complete.

    Costs a listing of each run folder, and a HEAD only for an object whose listed ETag is not the
    manifest's: a multipart or KMS copy lists another ETag, and its metadata names the source's.
    """
    batch = manifest.batch_id
    archived_folder = run_folder(archive, batch)
    processing_folder = run_folder(processing, batch)
    archived = {info.key: info for info in storage.list(archived_folder)}
    processing_keys = {info.key for info in storage.list(processing_folder, etags=False)}
    wanted = {archived_folder.join(entry.path).key: entry for entry in manifest.entries}

    missing, different, left = [], [], []
    for key, entry in wanted.items():
        info = archived.get(key)
        if info is None:
            missing.append(entry.path)
            continue
        if not is_copy_of(info, entry.size, entry.etag):
            info = storage.head(archived_folder.object(key))
            if info is None or not is_copy_of(info, entry.size, entry.etag):
                different.append(entry.path)
        if processing_folder.join(entry.path).key in processing_keys:
            left.append(entry.path)
    return {
        "missing": missing,
        "different": different,
        "left_in_processing": left,
        "unexpected": [archived_folder.relative(key) for key in archived if key not in wanted],
    }
