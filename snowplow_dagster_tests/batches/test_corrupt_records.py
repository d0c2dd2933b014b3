"""A corrupt ``pending.json``, ``staged.json``, batch manifest or marker (issue 9,
item 7): an error that names the file, says what is wrong and how to recover, on both backends;
never a parser's traceback, and nothing moves."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from snowplow_dagster.batches.claiming import claim
from snowplow_dagster.batches.manifest import BatchState, CorruptRecord, ManifestStore
from snowplow_dagster.batches.moves import archive_batch, stage_batch
from snowplow_dagster_tests.fixtures.s3 import Backend
from snowplow_dagster_tests.storage.helpers import settings_for

GARBAGE = {
    "truncated": (b'{"pending": ["2026-01-0', "not valid JSON"),
    "binary": (b"\x1f\x8b\x08\x00\xff\xfe", "not UTF-8 text"),
    "not-an-object": (b'["2026-01-01-00-00-00"]', "a JSON object was expected, not list"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
}


@pytest.mark.parametrize("garbage", sorted(GARBAGE))
def test_a_corrupt_pending_index_names_itself_and_the_way_back(
    backend: Backend, garbage: str
) -> None:
    backend.put("in/a.gz", b"a\n")
    settings = settings_for(backend.root)
    data, problem = GARBAGE[garbage]
    backend.put("manifests/pending.json", data)

    with pytest.raises(CorruptRecord) as refused:
        claim(backend.storage, settings)

    message = str(refused.value)
    assert message.startswith(f"{backend.location('manifests/pending.json').uri} is corrupt: ")
    assert problem in message
    assert "Restore it from a backup" in message and '{"format": 1, "pending": [ids]}' in message
    assert "\n" not in message and len(message) < 1000
    assert backend.objects("in/") == {"in/a.gz": b"a\n"}
    assert set(backend.objects("manifests/")) == {"manifests/pending.json"}


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"pending": "2026-01-01-00-00-00"}, '"pending" must be a list of batch ids'),
        ({"pending": ["../../in/x"]}, '"../../in/x" is not a batch id'),
        ({"pending": [7]}, "7 is not a batch id"),
    ],
)
def test_index_ids_that_are_not_batch_ids_are_refused(
    backend: Backend, document: dict[str, object], problem: str
) -> None:
    backend.put("manifests/pending.json", json.dumps(document).encode())
    store = ManifestStore(backend.storage, backend.location("manifests/"))
    with pytest.raises(CorruptRecord, match=r"pending\.json is corrupt") as refused:
        store.unarchived()
    assert problem in str(refused.value)


def test_a_corrupt_staged_index_names_itself_and_the_way_back(backend: Backend) -> None:
    backend.put("manifests/staged.json", b'{"staged": ["2026-01-01-00-00-00",')
    store = ManifestStore(backend.storage, backend.location("manifests/"))

    with pytest.raises(CorruptRecord) as refused:
        store.unarchived()

    message = str(refused.value)
    assert message.startswith(f"{backend.location('manifests/staged.json').uri} is corrupt: ")
    assert "not valid JSON" in message
    assert '"adopted": true, "staged": [ids]' in message
    assert "a staged/<id>.json marker and no archived/<id>.json marker" in message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"size":2', '"size":"2"'), "entries[0].size must be a int"),
        (lambda text: text.replace('"etag":', '"ETag":'), "entries[0] must be an object with"),
        (lambda text: text.replace('"source":0', '"source":3'), "source or size out of range"),
        (lambda text: text.replace('"format":1', '"format":2'), "unsupported manifest format 2"),
    ],
)
def test_a_corrupt_batch_manifest_names_itself_and_nothing_moves(
    backend: Backend, change: Callable[[str], str], problem: str
) -> None:
    backend.put("in/a.gz", b"a\n")
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    relative = f"manifests/batches/{manifest.batch_id}.json"
    text = backend.objects(relative)[relative].decode()
    backend.put(relative, change(text).encode())

    with pytest.raises(CorruptRecord) as refused:
        stage_batch(backend.storage, settings, manifest.batch_id)

    message = str(refused.value)
    assert message.startswith(f"{backend.location(relative).uri} is corrupt: ")
    assert problem in message
    assert "a manifest cannot be rebuilt from folders" in message
    assert f"take {manifest.batch_id} out of" in message and "pending.json" in message
    assert backend.objects("in/") == {"in/a.gz": b"a\n"}
    assert backend.objects("processing/") == {}


def test_a_manifest_under_another_batch_s_name_is_refused(backend: Backend) -> None:
    backend.put("in/a.gz", b"a\n")
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    relative = f"manifests/batches/{manifest.batch_id}.json"
    text = backend.objects(relative)[relative].decode()
    backend.put(relative, text.replace(manifest.batch_id, "2020-01-01-00-00-00").encode())
    with pytest.raises(
        CorruptRecord, match=f"it names batch 2020-01-01-00-00-00, not {manifest.batch_id}"
    ):
        stage_batch(backend.storage, settings, manifest.batch_id)


def test_a_corrupt_marker_names_itself(backend: Backend) -> None:
    backend.put("in/a.gz", b"a\n")
    settings = settings_for(backend.root)
    [manifest] = claim(backend.storage, settings)
    stage_batch(backend.storage, settings, manifest.batch_id)
    archive_batch(backend.storage, settings, manifest.batch_id)
    relative = f"manifests/archived/{manifest.batch_id}.json"
    backend.put(relative, b"{")
    store = ManifestStore(backend.storage, settings.manifests)
    with pytest.raises(CorruptRecord, match="is corrupt: not valid JSON") as refused:
        store.details(manifest.batch_id, BatchState.ARCHIVED)
    assert backend.location(relative).uri in str(refused.value)
