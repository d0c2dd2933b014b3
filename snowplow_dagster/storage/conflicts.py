"""The configured storage locations must be disjoint, checked before anything moves.

EmrEtlRunner accepted a processing folder inside the in-bucket, or an archive inside processing; the
listing of one then also returned the other, and files were staged twice or archived unprocessed.
Every step here lists or moves by prefix, so two locations that are the same, or nest, are refused.
"""

from __future__ import annotations

from collections.abc import Mapping

from snowplow_dagster.storage.location import Location


class LocationConflict(ValueError):
    """Two configured locations clash; ``keys`` names both, as the configuration spells them."""

    def __init__(self, keys: tuple[str, str], message: str) -> None:
        super().__init__(message)
        self.keys = keys


def check_locations(locations: Mapping[str, Location]) -> None:
    """Raise ``LocationConflict`` for the first two locations (by configuration key) that are the
    same, nest, or live on different storage (one pipeline uses one storage backend)."""
    folders = [(name, location.folder()) for name, location in locations.items()]
    for index, (first_name, first) in enumerate(folders):
        for second_name, second in folders[index + 1 :]:
            keys = (first_name, second_name)
            described = f"{first_name} ({first.uri}) and {second_name} ({second.uri})"
            if first.scheme != second.scheme:
                raise LocationConflict(keys, f"{described} are on different storage backends")
            if first.bucket != second.bucket:
                continue
            if first.key == second.key:
                raise LocationConflict(keys, f"{described} are the same location")
            if second.key.startswith(first.key):
                raise LocationConflict(
                    keys, f"{second_name} ({second.uri}) is inside {first_name} ({first.uri})"
                )
            if first.key.startswith(second.key):
                raise LocationConflict(
                    keys, f"{first_name} ({first.uri}) is inside {second_name} ({second.uri})"
                )
