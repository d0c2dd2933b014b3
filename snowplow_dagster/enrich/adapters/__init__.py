"""Turn a ``CollectorPayload`` into the raw events it carries, by its (vendor, version).

Scala Common Enrich's ``AdapterRegistry``, limited to the adapters this job ships: Snowplow's
tracker protocols, the redirect, and CloudFront access logs.
"""

from __future__ import annotations

from collections.abc import Callable

from snowplow_dagster.enrich.adapters import cloudfront_access_log, snowplow
from snowplow_dagster.enrich.payload import CollectorPayload, ProcessingError, RawEvent

Adapter = Callable[[CollectorPayload], list[RawEvent]]

ADAPTERS: dict[tuple[str, str], Adapter] = {
    ("com.snowplowanalytics.snowplow", "tp1"): snowplow.tp1_to_raw_events,
    ("com.snowplowanalytics.snowplow", "tp2"): snowplow.tp2_to_raw_events,
    ("r", "tp2"): snowplow.redirect_to_raw_events,
    ("com.amazon.aws.cloudfront", "wd_access_log"): cloudfront_access_log.to_raw_events,
}
"""The supported (vendor, version) pairs and their adapters."""


def to_raw_events(payload: CollectorPayload) -> list[RawEvent]:
    """The raw events of a payload (at least one); ProcessingError if it has none usable."""
    adapter = ADAPTERS.get((payload.api.vendor, payload.api.version))
    if adapter is None:
        # Snowplow's wording, kept because users and tools grep bad rows for it.
        raise ProcessingError(
            f"Payload with vendor {payload.api.vendor} and version {payload.api.version} "
            "not supported by this version of Scala Common Enrich"
        )
    return adapter(payload)
