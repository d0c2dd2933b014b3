"""Adopting an earlier version's staged batches from the run folders of processing, once."""

from __future__ import annotations

from typing import Any

import pytest

from snowplow_dagster.batches.adoption import adopt_legacy_batches
from snowplow_dagster.batches.claiming import claim
from snowplow_dagster.batches.manifest import ManifestStore
from snowplow_dagster.batches.moves import stage_batch
from snowplow_dagster.storage import Location
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.storage.helpers import settings_for


def test_staged_run_folders_are_adopted_from_one_listing_only(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend.put("in/a.gz", b"a line\n")
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    stage_batch(backend.storage, settings, manifest.batch_id)
    backend.storage.delete(backend.location("manifests/staged.json"))  # as earlier versions left it
    backend.put("processing/run=never-claimed/x.gz", b"no manifest")
    backend.put("processing/elsewhere/y.gz", b"not a run folder")
    store = ManifestStore(backend.storage, settings.manifests)
    assert store.unarchived() == []
    listed: list[str] = []
    list_children = type(backend.storage).list_children

    def spying(self: Any, folder: Location) -> Any:
        listed.append(backend.root.relative(folder.key))
        return list_children(self, folder)

    monkeypatch.setattr(type(backend.storage), "list_children", spying)
    adopt_legacy_batches(backend.storage, store, settings.processing)
    adopt_legacy_batches(backend.storage, store, settings.processing)

    assert listed == ["processing/"]
    assert store.legacy_adopted()
    assert store.unarchived() == [manifest.batch_id]
