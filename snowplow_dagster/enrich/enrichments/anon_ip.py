"""anon_ip: mask the right-hand part of ``user_ipaddress``.

IPv4 follows Scala Common Enrich 0.37 exactly: the value is split on ``.`` (Java ``split``, so
trailing empty parts vanish) and every part at index >= 4 - anonOctets becomes ``x``. An IPv6
address has no dots, so it is one part: unchanged for 1-3 octets and ``x`` for 4.

Schema 1-0-1 adds ``anonSegments`` (1-8). When it is given, IPv6 addresses are masked the way
later Snowplow releases do it: written in full without leading zeros
(``2605:2700:0:3:0:0:4713:93e3``) and the last N of the 8 segments replaced by ``x``. Without it
the 0.37 behaviour above applies, so existing 1-0-0 configs keep producing the same values.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from snowplow_dagster.enrich.conversions import java_split
from snowplow_dagster.enrich.enrichments.config import reject_unknown_keys, require_int

_MASK = "x"


@dataclass(frozen=True, slots=True)
class AnonIp:
    octets: int
    segments: int | None = None

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> AnonIp:
        reject_unknown_keys(parameters, ("anonOctets", "anonSegments"), "parameters")
        octets = require_int(parameters, "anonOctets", "parameters", 1, 4)
        segments = None
        if "anonSegments" in parameters:
            segments = require_int(parameters, "anonSegments", "parameters", 1, 8)
        return cls(octets, segments)

    def anonymise(self, ip: str) -> str:
        return _anonymised(ip, self.octets, self.segments)


@functools.lru_cache(maxsize=20_000)
def _anonymised(ip: str, octets: int, segments: int | None) -> str:
    """Cached: a visitor's events share their address."""
    if segments is not None and ":" in ip and "." not in ip:
        return _mask_ipv6(ip, segments)
    keep = 4 - octets
    parts = java_split(ip, ".")
    return ".".join(part if index < keep else _MASK for index, part in enumerate(parts))


def _mask_ipv6(ip: str, segments: int) -> str:
    try:
        hextets = [f"{int(group, 16):x}" for group in ipaddress.IPv6Address(ip).exploded.split(":")]
    except ValueError:
        hextets = ip.split(":")  # not an address: mask its raw groups, as Snowplow does
    kept = hextets[: 8 - segments]
    return ":".join(kept + [_MASK] * (8 - len(kept)))
