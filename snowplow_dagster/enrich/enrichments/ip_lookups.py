"""ip_lookups: MaxMind GeoIP2 databases → geo_*, ip_isp, ip_organization, ip_domain, ip_netspeed.

Configured by ``ip_lookups`` 2-0-x, one ``{"database": ..., "uri": ...}`` object per database
(``geo``, ``isp``, ``domain``, ``connectionType``); see ``assets`` for where ``uri`` may point.
The database name is not restricted to Snowplow's enum (so the MaxMind test databases or
GeoLite2 work); instead each file's own metadata must say it is the right kind of database.
2-0-1's ``asn`` database is accepted but unused: no enriched-event column takes it.

Fields follow scala-maxmind-iplookups 0.4 as Scala Common Enrich 0.37 used it: the most specific
subdivision gives ``geo_region`` (ISO code) and ``geo_region_name`` (English name); latitude and
longitude are Java floats (``47.2513``), 0.0 when a City record has no location; an address that
is invalid or unknown to a database sets nothing from it. Results are cached per IP address, as
IPs repeat heavily within a batch.
"""

from __future__ import annotations

import functools
import logging
import struct
from collections.abc import Callable, Mapping
from typing import Any

import maxminddb

from snowplow_dagster.enrich.enrichments.config import (
    EnrichmentConfigError,
    reject_unknown_keys,
    require_object,
    require_str,
)
from snowplow_dagster.enrich.enrichments.databases import resolve_database
from snowplow_dagster.enrich.event import EnrichedEvent

logger = logging.getLogger(__name__)

Record = dict[str, Any]
Fields = dict[str, str]

CACHE_SIZE = 20_000
"""Distinct IPs remembered per process; Snowplow's LRU held 20,000 too."""


def _geo_fields(record: Record) -> Fields:
    location = record.get("location") or {}
    subdivision = (record.get("subdivisions") or [{}])[-1]
    return {
        "geo_country": (record.get("country") or {}).get("iso_code"),
        "geo_region": subdivision.get("iso_code"),
        "geo_city": _english_name(record.get("city")),
        "geo_zipcode": (record.get("postal") or {}).get("code"),
        "geo_latitude": java_float(location.get("latitude", 0.0)),
        "geo_longitude": java_float(location.get("longitude", 0.0)),
        "geo_region_name": _english_name(subdivision),
        "geo_timezone": location.get("time_zone"),
    }


def _isp_fields(record: Record) -> Fields:
    return {"ip_isp": record.get("isp"), "ip_organization": record.get("organization")}


def _domain_fields(record: Record) -> Fields:
    return {"ip_domain": record.get("domain")}


def _connection_type_fields(record: Record) -> Fields:
    return {"ip_netspeed": record.get("connection_type")}


_DATABASES: dict[str, tuple[str, Callable[[Record], Fields]]] = {
    # parameter key: (what the file's database_type must contain, record -> columns)
    "geo": ("City", _geo_fields),
    "isp": ("ISP", _isp_fields),
    "domain": ("Domain", _domain_fields),
    "connectionType": ("Connection-Type", _connection_type_fields),
}
_UNUSED_DATABASES = ("asn",)


class IpLookups:
    """Open MaxMind readers plus a per-IP cache of the columns they give."""

    def __init__(self, readers: Mapping[str, Any]) -> None:
        """``readers``: open ``maxminddb`` readers (C or pure Python) by parameter key."""
        self._lookups = [(readers[key], _DATABASES[key][1]) for key in _DATABASES if key in readers]
        self._fields = functools.lru_cache(maxsize=CACHE_SIZE)(self._fields_uncached)

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> IpLookups:
        reject_unknown_keys(parameters, [*_DATABASES, *_UNUSED_DATABASES], "parameters")
        readers = {}
        for key, (kind, _) in _DATABASES.items():
            if key in parameters:
                readers[key] = _open(require_object(parameters, key, "parameters"), key, kind)
        for key in _UNUSED_DATABASES:
            if key in parameters:
                logger.info("ip_lookups: the %s database is not used (no enriched column)", key)
        return cls(readers)

    def enrich(self, event: EnrichedEvent, ip: str) -> None:
        # Straight into the instance dict: EnrichedEvent keeps its columns there, and one
        # update is cheaper than eight setattr calls on this per-event path.
        vars(event).update(self._fields(ip))

    def _fields_uncached(self, ip: str) -> Fields:
        fields: Fields = {}
        try:
            for reader, to_fields in self._lookups:
                record = reader.get(ip)
                if record is not None:
                    fields.update(to_fields(record))
        except (ValueError, maxminddb.InvalidDatabaseError):
            return {}  # not an IP address, or a damaged database: Snowplow sets nothing
        return {name: value for name, value in fields.items() if value is not None}


def _open(config: Mapping[str, Any], key: str, kind: str) -> Any:
    path = f"parameters.{key}"
    reject_unknown_keys(config, ("database", "uri"), path)
    file = resolve_database(
        require_str(config, "uri", path), require_str(config, "database", path), path
    )
    try:
        reader = maxminddb.open_database(str(file), maxminddb.MODE_AUTO)
    except (OSError, maxminddb.InvalidDatabaseError) as error:
        raise EnrichmentConfigError(f"{path}: {file} is not a MaxMind database: {error}") from error
    database_type = reader.metadata().database_type
    if kind not in database_type:
        reader.close()
        raise EnrichmentConfigError(f"{path}: {file} is a {database_type} database, not {kind}")
    return reader


def _english_name(entity: Mapping[str, Any] | None) -> str | None:
    return ((entity or {}).get("names") or {}).get("en")


def java_float(value: float) -> str:
    """Java ``Float.toString`` of ``value`` rounded to a float32, as Scala wrote lat/long.

    Shortest digits that read back as the same float32; plain notation for 1e-3 <= |x| < 1e7
    with at least one decimal, else ``1.0E-4`` style. Checked against Java 17 on 200,000
    random coordinates.
    """
    single = _to_float32(value)
    if single == 0:
        return "-0.0" if struct.pack(">f", single)[0] & 0x80 else "0.0"
    for precision in range(9):
        text = f"{single:.{precision}e}"
        if _to_float32(float(text)) == single:
            break
    mantissa, exponent_text = text.split("e")
    sign = "-" if mantissa.startswith("-") else ""
    digits = mantissa.lstrip("-").replace(".", "")
    exponent = int(exponent_text)
    if not -3 <= exponent < 7:
        return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exponent}"
    if exponent >= 0:
        whole, fraction = digits[: exponent + 1].ljust(exponent + 1, "0"), digits[exponent + 1 :]
    else:
        whole, fraction = "0", "0" * (-exponent - 1) + digits
    return f"{sign}{whole}.{fraction.rstrip('0') or '0'}"


def _to_float32(value: float) -> float:
    return struct.unpack("f", struct.pack("f", value))[0]
