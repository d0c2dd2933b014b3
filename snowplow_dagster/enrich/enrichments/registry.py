"""The configured enrichments, built from Snowplow's own enrichment JSON files.

Spark Enrich received its enrichments as one self-describing JSON,
``{"schema": "iglu:com.snowplowanalytics.snowplow/enrichments/jsonschema/1-0-0", "data": [...]}``,
that EmrEtlRunner assembled from every ``*.json`` in the enrichments folder. ``from_json`` takes
that wrapper; ``load_enrichments_directory`` builds it from a folder. Everything that can be
wrong with a configuration fails here, at startup, with ``EnrichmentConfigError``; enrichments
this pipeline does not implement and disabled ones are skipped with an INFO log line naming them.
Log lines and errors name schemas and keys, never parameter values, as some are secrets.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from snowplow_dagster.enrich.enrichments.anon_ip import AnonIp
from snowplow_dagster.enrich.enrichments.campaign_attribution import CampaignAttribution
from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError
from snowplow_dagster.enrich.enrichments.event_fingerprint import EventFingerprint
from snowplow_dagster.enrich.enrichments.ip_lookups import IpLookups
from snowplow_dagster.enrich.enrichments.pii import PiiPseudonymizer
from snowplow_dagster.enrich.enrichments.referer_parser import RefererParser
from snowplow_dagster.enrich.enrichments.ua_parser import UaParser
from snowplow_dagster.enrich.enrichments.user_agent_utils import UserAgentUtils
from snowplow_dagster.enrich.iglu import SchemaKey, parse_schema_uri

__all__ = [
    "ENRICHMENTS_SCHEMA",
    "EnrichmentConfigError",
    "EnrichmentRegistry",
    "load_enrichments_directory",
]

logger = logging.getLogger(__name__)

ENRICHMENTS_SCHEMA = "iglu:com.snowplowanalytics.snowplow/enrichments/jsonschema/1-0-0"
_SNOWPLOW = "com.snowplowanalytics.snowplow"


class _Kind(NamedTuple):
    attribute: str
    """The EnrichmentRegistry field it fills."""
    vendor: str
    versions: tuple[tuple[int, int], ...]
    """Supported (model, revision) pairs; any addition is accepted, as Snowplow's criteria did."""
    build: Callable[[Mapping[str, Any], SchemaKey], Any]


_KINDS = {  # by schema name, as Scala Common Enrich dispatched
    "anon_ip": _Kind("anon_ip", _SNOWPLOW, ((1, 0),), lambda p, _: AnonIp.from_parameters(p)),
    "ip_lookups": _Kind(
        "ip_lookups", _SNOWPLOW, ((2, 0),), lambda p, _: IpLookups.from_parameters(p)
    ),
    "campaign_attribution": _Kind(
        "campaign_attribution",
        _SNOWPLOW,
        ((1, 0),),
        lambda p, _: CampaignAttribution.from_parameters(p),
    ),
    "referer_parser": _Kind(
        "referer_parser",
        _SNOWPLOW,
        ((1, 0), (2, 0)),
        lambda p, k: RefererParser.from_parameters(p, k.model),
    ),
    "ua_parser_config": _Kind(
        "ua_parser", _SNOWPLOW, ((1, 0),), lambda p, _: UaParser.from_parameters(p)
    ),
    "user_agent_utils_config": _Kind(
        "user_agent_utils", _SNOWPLOW, ((1, 0),), lambda p, _: UserAgentUtils.from_parameters(p)
    ),
    "event_fingerprint_config": _Kind(
        "event_fingerprint", _SNOWPLOW, ((1, 0),), lambda p, _: EventFingerprint.from_parameters(p)
    ),
    "pii_enrichment_config": _Kind(
        "pii",
        f"{_SNOWPLOW}.enrichments",
        ((2, 0),),
        lambda p, _: PiiPseudonymizer.from_parameters(p),
    ),
}


@dataclass(frozen=True)
class EnrichmentRegistry:
    """One optional instance per supported enrichment; an empty registry enriches nothing.

    Holds open MaxMind readers, so build it where it is used (each Spark worker builds its own
    from the JSON) rather than pickling it.
    """

    anon_ip: AnonIp | None = None
    ip_lookups: IpLookups | None = None
    campaign_attribution: CampaignAttribution | None = None
    referer_parser: RefererParser | None = None
    ua_parser: UaParser | None = None
    user_agent_utils: UserAgentUtils | None = None
    event_fingerprint: EventFingerprint | None = None
    pii: PiiPseudonymizer | None = None

    @classmethod
    def from_json(cls, config: Mapping[str, Any] | str) -> EnrichmentRegistry:
        """Build from the enrichments wrapper (a dict, or its JSON text)."""
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except ValueError as error:
                raise EnrichmentConfigError(
                    f"Enrichments config is not valid JSON: {error}"
                ) from error
        key = _envelope(config, "Enrichments config")
        if (key.vendor, key.name, key.model) != (_SNOWPLOW, "enrichments", 1) or not isinstance(
            config["data"], list
        ):
            raise EnrichmentConfigError(
                f"Enrichments config must be an array of {ENRICHMENTS_SCHEMA}"
            )
        enrichments: dict[str, Any] = {}
        for number, item in enumerate(config["data"], start=1):
            built = _build(item, f"Enrichment #{number}")
            if built is None:
                continue
            attribute, enrichment = built
            if attribute in enrichments:
                raise EnrichmentConfigError(f"Enrichment {item['schema']} is configured twice")
            enrichments[attribute] = enrichment
        return cls(**enrichments)


def load_enrichments_directory(path: Path) -> dict[str, Any]:
    """The enrichments wrapper for every ``*.json`` in an EmrEtlRunner enrichments folder.

    Files are read in name order. A relative ``uri`` inside an enrichment's parameters (e.g.
    ip_lookups ``"uri": "maxmind"``) is resolved against that file's folder and replaced by a
    ``file://`` URI, so a folder can ship with its databases and be used from anywhere; a
    relative ``uri`` given to ``from_json`` directly is relative to the working directory.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise EnrichmentConfigError(f"Enrichments directory {directory} does not exist")
    items = []
    for file in sorted(directory.glob("*.json")):
        try:
            item = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise EnrichmentConfigError(
                f"Enrichment file {file} is not valid JSON: {error}"
            ) from error
        _envelope(item, f"Enrichment file {file}")
        if isinstance(item["data"], dict):
            _resolve_relative_uris(item["data"].get("parameters"), file.parent)
        items.append(item)
    return {"schema": ENRICHMENTS_SCHEMA, "data": items}


def _envelope(item: Any, where: str) -> SchemaKey:
    """The schema key of a self-describing JSON; errors never quote the content."""
    if not isinstance(item, dict) or not isinstance(item.get("schema"), str) or "data" not in item:
        raise EnrichmentConfigError(f"{where} is not a self-describing JSON (schema and data)")
    key = parse_schema_uri(item["schema"])
    if key is None:
        raise EnrichmentConfigError(f"{where}: schema {item['schema']!r} is not an Iglu URI")
    return key


def _build(item: Any, where: str) -> tuple[str, Any] | None:
    key = _envelope(item, where)
    kind = _KINDS.get(key.name)
    if kind is None:
        logger.info(
            "Ignoring enrichment %s (%s): not implemented by this pipeline", key.name, key.uri
        )
        return None
    data = item["data"]
    enabled = data.get("enabled") if isinstance(data, dict) else None
    if not isinstance(enabled, bool):
        raise EnrichmentConfigError(f"Enrichment {key.uri}: data.enabled must be true or false")
    if not enabled:
        logger.info("Enrichment %s is disabled (%s)", key.name, key.uri)
        return None
    revision = int(key.version.split("-")[1])
    if (key.vendor, key.format) != (kind.vendor, "jsonschema") or (
        key.model,
        revision,
    ) not in kind.versions:
        supported = ", ".join(f"{model}-{rev}-*" for model, rev in kind.versions)
        raise EnrichmentConfigError(
            f"Enrichment {key.uri}: unsupported schema; {key.name} supports "
            f"iglu:{kind.vendor}/{key.name}/jsonschema/{supported}"
        )
    parameters = data.get("parameters", {})
    if not isinstance(parameters, dict):
        raise EnrichmentConfigError(f"Enrichment {key.uri}: data.parameters must be an object")
    try:
        return kind.attribute, kind.build(parameters, key)
    except EnrichmentConfigError as error:
        raise EnrichmentConfigError(f"Enrichment {key.uri}: {error}") from error


def _resolve_relative_uris(node: Any, base: Path) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uri" and isinstance(value, str) and _is_relative_path(value):
                node[key] = (base / value).resolve().as_uri()
            else:
                _resolve_relative_uris(value, base)
    elif isinstance(node, list):
        for value in node:
            _resolve_relative_uris(value, base)


def _is_relative_path(uri: str) -> bool:
    return not urlsplit(uri).scheme and not Path(uri).is_absolute()
