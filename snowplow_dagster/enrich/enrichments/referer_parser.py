"""referer_parser: refr_medium, refr_source and refr_term from the parsed referer URL.

Follows Snowplow's Java referer-parser (0.3), which Scala Common Enrich 0.37 called with the
referer URI, the page host and ``internalDomains``:

- only ``http``/``https`` referers with a host get a medium;
- ``internal`` when the referer host equals the page host or is one of ``internalDomains``;
- else the host is looked up in the referers database: host + full path, then host + first path
  segment, then the same without the path, each time dropping the left-most label until found
  (``www.google.co.uk`` → ``google.co.uk``); a hit gives the medium and the source name, a miss
  gives ``unknown``;
- for ``search`` referers the term is the first query parameter (in URL order, names compared
  case-sensitively) that the database lists for that engine, decoded like the tracker's own
  querystring (``querystring.parse_querystring``) and made TSV-safe.

The database is the referer-parser package's bundled ``referers.json`` (schema 1-0-x) or, with
``referer_parser`` 2-0-x, the ``database`` file found at ``uri`` (same JSON format, e.g.
``referers-latest.json``). The package's own loader lower-cases parameter names, which Java did
not, so the JSON is read here. Lookups are cached per (host, path).

The package itself is never imported: its ``__init__`` reads the database with ``open()`` at
import, which fails when it comes from a zip (EMR's ``--py-files``); ``bundled_database`` finds
the file through ``importlib.resources``, which reads from a folder and a zip alike.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, NamedTuple

from snowplow_dagster.enrich.enrichments.config import (
    EnrichmentConfigError,
    reject_unknown_keys,
    require_str,
    require_str_list,
)
from snowplow_dagster.enrich.enrichments.databases import resolve_database
from snowplow_dagster.enrich.enrichments.tsv import tsv_safe
from snowplow_dagster.enrich.event import EnrichedEvent
from snowplow_dagster.enrich.payload import ProcessingError
from snowplow_dagster.enrich.querystring import parse_querystring

CACHE_SIZE = 50_000


class Referer(NamedTuple):
    medium: str
    source: str
    parameters: tuple[str, ...]


class RefererParser:
    def __init__(self, referers: Mapping[str, Referer], internal_domains: frozenset[str]) -> None:
        self._referers = referers
        self._internal_domains = internal_domains
        self._find = functools.lru_cache(maxsize=CACHE_SIZE)(self._find_uncached)

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any], model: int) -> RefererParser:
        """``model`` is the schema's major version: 2 adds the ``database``/``uri`` pair."""
        if model == 1:
            reject_unknown_keys(parameters, ("internalDomains",), "parameters")
            database = bundled_database()
        else:
            reject_unknown_keys(parameters, ("internalDomains", "database", "uri"), "parameters")
            uri = require_str(parameters, "uri", "parameters")
            database = resolve_database(
                uri, require_str(parameters, "database", "parameters"), "parameters"
            )
        domains = require_str_list(parameters, "internalDomains", "parameters")
        return cls(load_referers(database), frozenset(domain.strip() for domain in domains))

    def enrich(self, event: EnrichedEvent) -> None:
        host = event.refr_urlhost
        if host is None or event.refr_urlscheme not in ("http", "https"):
            return
        if host == event.page_urlhost or host in self._internal_domains:
            event.refr_medium = "internal"
            return
        referer = self._find(host, event.refr_urlpath or "")
        if referer is None:
            event.refr_medium = "unknown"
            return
        event.refr_medium = referer.medium
        event.refr_source = referer.source
        if referer.medium == "search" and referer.parameters:
            term = tsv_safe(_search_term(event.refr_urlquery, referer.parameters))
            if term is not None:
                event.refr_term = term

    def _find_uncached(self, host: str, path: str) -> Referer | None:
        return self._find_from(host, path, with_path=True) or self._find_from(
            host, path, with_path=False
        )

    def _find_from(self, host: str, path: str, *, with_path: bool) -> Referer | None:
        segments = path.split("/")
        while True:
            if with_path:
                referer = self._referers.get(host + path)
                if referer is None and any(segments[1:]):  # Java: split("/").length > 1
                    referer = self._referers.get(f"{host}/{segments[1]}")
            else:
                referer = self._referers.get(host)
            if referer is not None:
                return referer
            dot = host.find(".")
            if dot == -1:
                return None
            host = host[dot + 1 :]


def bundled_database() -> Traversable:
    """referer-parser's ``data/referers.json``, located without running the package's
    ``__init__`` (module docstring): ``files()`` of the unexecuted module reads its loader."""
    spec = importlib.util.find_spec("referer_parser")
    if spec is None:
        raise EnrichmentConfigError("referer_parser needs the referer-parser package installed")
    return resources.files(importlib.util.module_from_spec(spec)) / "data" / "referers.json"


def load_referers(path: Traversable) -> dict[str, Referer]:
    """Index a referers JSON (``{medium: {source: {domains, parameters}}}``) by domain."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        referers = {}
        for medium, sources in raw.items():
            for source, config in sources.items():
                parameters = tuple(config.get("parameters") or ())
                for domain in config["domains"]:
                    referers[domain] = Referer(medium, source, parameters)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise EnrichmentConfigError(f"Referer database {path} is not usable: {error!r}") from error
    return referers


def _search_term(query: str | None, parameters: tuple[str, ...]) -> str | None:
    """The first listed parameter's value. A query ``java.net.URI`` rejects gives no term, as in
    the Java parser; with a repeated name the last value counts (Java took the first)."""
    try:
        pairs = parse_querystring(query)
    except ProcessingError:
        return None
    return next((value for name, value in pairs.items() if name in parameters), None)
