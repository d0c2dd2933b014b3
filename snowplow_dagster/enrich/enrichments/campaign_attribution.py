"""campaign_attribution: mkt_* columns from the page URL's query string.

Each mkt_* column takes the first parameter of its configured list that the query string has
(list order, not URL order); a parameter present without a value (``?utm_source``) still wins
and gives an empty column, as in Scala Common Enrich. ``mapping`` (static/script) is accepted and
ignored, as Snowplow did. Without ``fields`` the ``utm_*`` defaults apply.

Click IDs: the first of gclid → Google, msclkid → Microsoft, dclid → DoubleClick, then the
custom ``mktClickId`` entries (a custom entry for a default parameter replaces its network)
gives ``mkt_clickid`` and ``mkt_network``. Values are made TSV-safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from snowplow_dagster.enrich.enrichments.config import (
    EnrichmentConfigError,
    reject_unknown_keys,
    require_object,
    require_str_list,
)
from snowplow_dagster.enrich.enrichments.tsv import tsv_safe
from snowplow_dagster.enrich.event import EnrichedEvent

_COLUMNS = {
    "mktMedium": "mkt_medium",
    "mktSource": "mkt_source",
    "mktTerm": "mkt_term",
    "mktContent": "mkt_content",
    "mktCampaign": "mkt_campaign",
}
_DEFAULT_FIELDS = {
    "mktMedium": ("utm_medium",),
    "mktSource": ("utm_source",),
    "mktTerm": ("utm_term",),
    "mktContent": ("utm_content",),
    "mktCampaign": ("utm_campaign",),
}
_DEFAULT_CLICK_IDS = {"gclid": "Google", "msclkid": "Microsoft", "dclid": "DoubleClick"}


@dataclass(frozen=True, slots=True)
class CampaignAttribution:
    fields: tuple[tuple[str, tuple[str, ...]], ...]
    """(column, parameters in order of precedence) per mkt_* column."""
    click_ids: tuple[tuple[str, str], ...]
    """(parameter, network) in order of precedence."""

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> CampaignAttribution:
        reject_unknown_keys(parameters, ("mapping", "fields"), "parameters")
        if "fields" not in parameters:
            return cls(_fields(_DEFAULT_FIELDS), tuple(_DEFAULT_CLICK_IDS.items()))
        config = require_object(parameters, "fields", "parameters")
        reject_unknown_keys(config, [*_COLUMNS, "mktClickId"], "parameters.fields")
        lists = {key: tuple(require_str_list(config, key, "parameters.fields")) for key in _COLUMNS}
        custom = (
            require_object(config, "mktClickId", "parameters.fields")
            if "mktClickId" in config
            else {}
        )
        if not all(isinstance(network, str) for network in custom.values()):
            raise EnrichmentConfigError("parameters.fields.mktClickId values must be strings")
        return cls(_fields(lists), tuple({**_DEFAULT_CLICK_IDS, **custom}.items()))

    def enrich(self, event: EnrichedEvent, page_query: Mapping[str, str | None]) -> None:
        if not page_query:
            return
        for column, names in self.fields:
            for name in names:
                if name in page_query:
                    setattr(event, column, tsv_safe(page_query[name]))
                    break
        for name, network in self.click_ids:
            if name in page_query:
                event.mkt_clickid = tsv_safe(page_query[name])
                event.mkt_network = network
                break


def _fields(lists: Mapping[str, tuple[str, ...]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((_COLUMNS[key], lists[key]) for key in _COLUMNS)
