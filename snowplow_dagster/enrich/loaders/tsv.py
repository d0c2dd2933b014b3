"""Lines that are themselves the event, e.g. CloudFront web-distribution access logs.

``--input-format tsv/<vendor>/<version>``: as Scala Common Enrich's ``TsvLoader``, the whole
line becomes the body of a payload for that adapter, which does all the parsing.
"""

from __future__ import annotations

from snowplow_dagster.enrich.loaders.cloudfront import HEADER_PREFIXES
from snowplow_dagster.enrich.payload import CollectorApi, CollectorPayload


def load_tsv(api: CollectorApi, line: str) -> CollectorPayload | None:
    """The line as the body of a payload for ``api``; None for a CloudFront header line."""
    if line.startswith(HEADER_PREFIXES):
        return None
    return CollectorPayload(
        api=api, querystring={}, source_name="tsv", timestamp_ms=None, body=line
    )
