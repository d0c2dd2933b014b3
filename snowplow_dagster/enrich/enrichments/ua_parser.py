"""ua_parser_config: the ``ua_parser_context`` derived context, from ua-parser (uap-core regexes).

Snowplow used uap-java 1.4.0; this uses the ``ua-parser`` 1.x package with its bundled, newer
regexes (``ua-parser-builtins``) and the Rust resolver when installed, so rare user agents may
be classified differently. ``parse_useragent`` is the one cached parse that user_agent_utils
shares.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import ua_parser
from ua_parser import DefaultedResult, Domain

from snowplow_dagster.enrich.enrichments.config import reject_unknown_keys

CONTEXT_SCHEMA = "iglu:com.snowplowanalytics.snowplow/ua_parser_context/jsonschema/1-0-0"
CACHE_SIZE = 20_000


@functools.cache
def parser() -> ua_parser.Parser:
    """The process-wide parser; loading the regexes takes ~0.15 s, so enrichments call this at
    startup. It has no cache of its own: ``parse_useragent`` caches finished results."""
    return ua_parser.Parser(ua_parser.BestAvailableResolver(ua_parser.load_lazy_builtins()))


@functools.lru_cache(maxsize=CACHE_SIZE)
def parse_useragent(useragent: str) -> DefaultedResult:
    """Browser, OS and device of a user agent; unknown parts have family "Other"."""
    return parser()(useragent, Domain.ALL).complete().with_defaults()


class UaParser:
    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> UaParser:
        # 1-0-0's schema declares an unused accountType; 1-0-1's regexFileUri (custom regexes)
        # is refused rather than silently ignored.
        reject_unknown_keys(parameters, ("accountType",), "parameters")
        parser()
        return cls()

    def context(self, useragent: str) -> dict[str, Any]:
        """The ua_parser_context self-describing JSON. Cached per user agent: do not mutate."""
        return _context(useragent)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _context(useragent: str) -> dict[str, Any]:
    result = parse_useragent(useragent)
    browser, os = result.user_agent, result.os
    return {
        "schema": CONTEXT_SCHEMA,
        "data": {
            "useragentFamily": browser.family,
            "useragentMajor": browser.major,
            "useragentMinor": browser.minor,
            "useragentPatch": browser.patch,
            "useragentVersion": _version(
                browser.family, browser.major, browser.minor, browser.patch
            ),
            "osFamily": os.family,
            "osMajor": os.major,
            "osMinor": os.minor,
            "osPatch": os.patch,
            "osPatchMinor": os.patch_minor,
            "osVersion": _version(os.family, os.major, os.minor, os.patch, os.patch_minor),
            "deviceFamily": result.device.family,
        },
    }


def _version(family: str, major: str | None, *rest: str | None) -> str:
    """uap-java's display version: family, " major", then ".part" for each later part present."""
    text = family + (f" {major}" if major is not None else "")
    return text + "".join(f".{part}" for part in rest if part is not None)
