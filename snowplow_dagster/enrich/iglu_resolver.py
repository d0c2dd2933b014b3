"""Iglu resolver: finds the JSON Schema of a schema key in the repositories of an
``iglu_resolver.json`` (resolver-config 1-0-0 … 1-0-3), as Snowplow's iglu-scala-client does.

Why it is shaped this way:

- **Lookup order** is iglu-scala-client's: repositories whose ``vendorPrefixes`` match the key's
  vendor first, then embedded before HTTP, then by ``priority`` (lower first), and the always
  present "Iglu Client Embedded" repository (this package's ``iglu_embedded``: the self-describing
  meta-schemas and the envelopes) before all of them.
- **Caching** is per process (a Spark worker): an LRU of ``cacheSize`` entries over hits *and*
  misses, so a schema is fetched once per worker, never per event, and a missing one is not
  asked for again on every event; ``cacheTtl`` (seconds) expires entries where given.
- **Embedded repositories** are folders laid out ``schemas/<vendor>/<name>/jsonschema/<M-R-A>``:
  an absolute path or ``file://`` URI; ``s3://`` (the user's static registry, read with boto3);
  or else a path inside the installed ``snowplow_dagster`` package, e.g. ``sample_data/iglu``
  (Snowplow reads embedded paths from the classpath; here the package is the classpath, and it
  also works from the EMR zip).
- **HTTP repositories** get ``<uri>/schemas/<vendor>/<name>/<format>/<version>`` with an optional
  ``apikey`` header, a short timeout and a few retries on 5xx and connection errors; 404 is "not
  found". A repository that cannot be reached is then skipped for a minute, so a dead mirror
  costs its timeouts about once per worker, not once per schema, and never per event (misses
  are cached like hits).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from snowplow_dagster.enrich.iglu import SchemaKey, parse_schema_uri

EMBEDDED_NAME = "Iglu Client Embedded"
_EMBEDDED_PACKAGE_PATH = "enrich/iglu_embedded"
DRAFT_04_URI = "http://json-schema.org/draft-04/schema"
_IGLU_CENTRAL_HOSTS = ("http://iglucentral.com/schemas/", "https://iglucentral.com/schemas/")
_HTTP_TIMEOUT_SECONDS = 5.0
_HTTP_ATTEMPTS = 3
_HTTP_BACKOFF_SECONDS = 0.2
_HTTP_DOWN_SECONDS = 60.0


class ResolverConfigError(ValueError):
    """The resolver config is unusable; the message names the key."""


class RepositoryError(RuntimeError):
    """A repository could not answer (down, 5xx after retries, unreadable answer)."""


class _Source(Protocol):
    def fetch(self, path: str) -> bytes | None:
        """The bytes at ``schemas/<path>``, None when the repository does not have it."""
        ...


@dataclass(frozen=True, slots=True)
class Repository:
    name: str
    priority: int
    vendor_prefixes: tuple[str, ...]
    kind: str
    """``embedded`` or ``HTTP``: the class priority of iglu-scala-client, and the label in
    "Could not find schema" messages."""
    source: _Source = field(compare=False)

    def matches(self, vendor: str) -> bool:
        return any(vendor.startswith(prefix) for prefix in self.vendor_prefixes)

    @property
    def label(self) -> str:
        return f"{self.name} [{self.kind}]"

    def lookup(self, key: SchemaKey) -> dict[str, Any] | None:
        data = self.source.fetch(f"{key.vendor}/{key.name}/{key.format}/{key.version}")
        if data is None:
            return None
        try:
            schema = json.loads(data)
        except ValueError as error:
            raise RepositoryError(f"{self.label}: {key.uri} is not JSON: {error}") from None
        if not isinstance(schema, dict):
            raise RepositoryError(f"{self.label}: {key.uri} is not a JSON object")
        return schema


class _Folder:
    """A folder on this machine, or inside the installed package (which may be a zip)."""

    def __init__(self, root: Any) -> None:
        self._root = root  # a Path or an importlib.resources Traversable

    def fetch(self, path: str) -> bytes | None:
        if not self._root.is_dir():
            raise RepositoryError(f"{self._root} is not a folder")
        target = self._root.joinpath("schemas", *path.split("/"))
        try:
            return target.read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, KeyError):
            return None


class _S3Folder:
    """A static registry in S3: the user's own repository on EMR (boto3 is on every node)."""

    def __init__(self, uri: str) -> None:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        self._bucket = bucket
        self._prefix = prefix.strip("/")
        self._client: Any = None

    def fetch(self, path: str) -> bytes | None:
        import boto3  # only where an s3:// repository is configured
        from botocore.exceptions import BotoCoreError, ClientError

        if self._client is None:
            self._client = boto3.client("s3")
        key = "/".join(part for part in (self._prefix, "schemas", path) if part)
        try:
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise RepositoryError(f"s3://{self._bucket}/{key}: {error}") from None
        except BotoCoreError as error:
            raise RepositoryError(f"s3://{self._bucket}/{key}: {error}") from None


class _Http:
    """A repository that cannot be reached at all (refused, DNS, timeout) is skipped without
    asking for ``_HTTP_DOWN_SECONDS``, so a dead mirror costs its timeouts once, not once per
    schema."""

    def __init__(self, uri: str, apikey: str | None, timeout: float) -> None:
        self._base = uri.rstrip("/")
        self._headers = {"apikey": apikey} if apikey else {}
        self._timeout = timeout
        self._down_until = 0.0
        self._down_problem = ""

    def fetch(self, path: str) -> bytes | None:
        url = f"{self._base}/schemas/{path}"
        if time.monotonic() < self._down_until:
            raise RepositoryError(
                f"{url}: not asked, unreachable moments ago: {self._down_problem}"
            )
        request = urllib.request.Request(url, headers=self._headers)
        problem = ""
        unreachable = False
        for attempt in range(_HTTP_ATTEMPTS):
            if attempt:
                time.sleep(_HTTP_BACKOFF_SECONDS * attempt)
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:
                    return response.read()
            except urllib.error.HTTPError as error:
                if error.code == 404:
                    return None
                problem, unreachable = f"HTTP {error.code}", False
                if error.code < 500:
                    break
            except (urllib.error.URLError, OSError) as error:
                problem, unreachable = str(getattr(error, "reason", error)), True
        if unreachable:
            self._down_until = time.monotonic() + _HTTP_DOWN_SECONDS
            self._down_problem = problem
        raise RepositoryError(f"{url}: {problem}")


def embedded_package_folder(path: str) -> Any:
    """A folder inside the installed ``snowplow_dagster`` package (works from a zip too)."""
    folder = resources.files("snowplow_dagster")
    for part in path.strip("/").split("/"):
        folder = folder.joinpath(part)
    return folder


def _client_embedded() -> Repository:
    return Repository(
        EMBEDDED_NAME, 0, (), "embedded", _Folder(embedded_package_folder(_EMBEDDED_PACKAGE_PATH))
    )


def bundled_meta_schema() -> dict[str, Any]:
    """The draft-04 meta-schema, bundled: ``$ref``s to it never reach the network."""
    folder = embedded_package_folder(_EMBEDDED_PACKAGE_PATH)
    return json.loads(folder.joinpath("draft-04-schema.json").read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Lookup:
    """The result of resolving one key: the schema, or the repositories tried (and why not)."""

    schema: dict[str, Any] | None
    tried: tuple[str, ...]
    failures: tuple[str, ...] = ()


class Resolver:
    """Schemas by key, from repositories in Snowplow's order, with an LRU cache per process."""

    def __init__(
        self,
        repositories: list[Repository],
        cache_size: int,
        cache_ttl: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.repositories = [_client_embedded(), *repositories]
        self.cache_size = cache_size
        self.cache_ttl = cache_ttl
        self._clock = clock
        self._cache: OrderedDict[SchemaKey, tuple[float, Lookup]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_config(
        cls, config: dict[str, Any], timeout: float = _HTTP_TIMEOUT_SECONDS
    ) -> Resolver:
        """From the resolver JSON (self-describing); ResolverConfigError names the bad key."""
        data = _member(config, "data", dict, "")
        cache_size = _member(data, "cacheSize", int, "data.")
        if cache_size < 0:
            raise ResolverConfigError("data.cacheSize: must be >= 0")
        ttl = data.get("cacheTtl")
        if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1):
            raise ResolverConfigError("data.cacheTtl: must be a positive number of seconds")
        items = _member(data, "repositories", list, "data.")
        repositories = [
            _repository(item, f"data.repositories[{i}]", timeout) for i, item in enumerate(items)
        ]
        return cls(repositories, cache_size, ttl)

    def ordered(self, key: SchemaKey) -> list[Repository]:
        """iglu-scala-client's ``prioritizeRepos``: client embedded first, then vendor-prefix
        matches, then embedded before HTTP, then ``priority``; a stable sort keeps file order."""
        first, *rest = self.repositories
        rest.sort(key=lambda r: (not r.matches(key.vendor), r.kind != "embedded", r.priority))
        return [first, *rest]

    def lookup(self, key: SchemaKey) -> Lookup:
        with self._lock:
            cached = self._cache.get(key)
            now = self._clock()
            if cached is not None and (self.cache_ttl is None or now - cached[0] < self.cache_ttl):
                self._cache.move_to_end(key)
                return cached[1]
            result = self._lookup(key)
            if self.cache_size > 0:
                self._cache[key] = (now, result)
                self._cache.move_to_end(key)
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            return result

    def _lookup(self, key: SchemaKey) -> Lookup:
        tried: list[str] = []
        failures: list[str] = []
        for repository in self.ordered(key):
            tried.append(repository.label)
            try:
                schema = repository.lookup(key)
            except RepositoryError as error:
                failures.append(str(error))
                continue
            if schema is not None:
                return Lookup(schema, tuple(tried))
        return Lookup(None, tuple(tried), tuple(failures))

    def resolve_ref(self, uri: str) -> dict[str, Any]:
        """A ``$ref`` to another schema: the draft-04 meta-schema and iglucentral.com schemas
        come from the bundle or the repositories, never from the network as URLs."""
        base = uri.split("#", 1)[0]
        if base.rstrip("#") == DRAFT_04_URI:
            return bundled_meta_schema()
        for host in _IGLU_CENTRAL_HOSTS:
            if base.startswith(host):
                key = parse_schema_uri("iglu:" + base.removeprefix(host))
                if key is not None:
                    found = self.lookup(key).schema
                    if found is not None:
                        return found
        raise RepositoryError(f"$ref {uri} cannot be resolved offline")

    def check(self) -> list[tuple[str, str]]:
        """Each repository's answer to one request for Iglu's meta-schema (lint): ``(label,
        "answers" or the problem)``; "answers (empty)" when it answered without having it."""
        probe = SchemaKey("com.snowplowanalytics.self-desc", "schema", "jsonschema", "1-0-0")
        answers = []
        for repository in self.repositories:
            try:
                found = repository.lookup(probe)
            except RepositoryError as error:
                answers.append((repository.label, f"unreachable: {error}"))
            else:
                answers.append((repository.label, "answers" if found else "answers (empty)"))
        return answers


def _member(container: dict[str, Any], name: str, kind: type, where: str) -> Any:
    value = container.get(name) if isinstance(container, dict) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = {dict: "an object", list: "an array", int: "an integer", str: "a string"}[kind]
        raise ResolverConfigError(f"{where}{name}: must be {expected}")
    return value


def _repository(item: Any, where: str, timeout: float) -> Repository:
    if not isinstance(item, dict):
        raise ResolverConfigError(f"{where}: must be an object")
    name = _member(item, "name", str, f"{where}.")
    priority = _member(item, "priority", int, f"{where}.")
    prefixes = _member(item, "vendorPrefixes", list, f"{where}.")
    connection = _member(item, "connection", dict, f"{where}.")
    http, embedded = connection.get("http"), connection.get("embedded")
    if (http is None) == (embedded is None):
        raise ResolverConfigError(f"{where}.connection: must have exactly one of http and embedded")
    if http is not None:
        uri = _member(connection, "http", dict, f"{where}.connection.").get("uri")
        if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
            raise ResolverConfigError(f"{where}.connection.http.uri: must be an http(s):// URI")
        apikey = http.get("apikey")
        source: _Source = _Http(uri, apikey if isinstance(apikey, str) else None, timeout)
        return Repository(name, priority, tuple(map(str, prefixes)), "HTTP", source)
    path = _member(connection, "embedded", dict, f"{where}.connection.").get("path")
    if not isinstance(path, str) or not path:
        raise ResolverConfigError(f"{where}.connection.embedded.path: must be a path")
    return Repository(name, priority, tuple(map(str, prefixes)), "embedded", _embedded(path))


def _embedded(path: str) -> _Source:
    if path.startswith("s3://"):
        return _S3Folder(path)
    if path.startswith("file://"):
        return _Folder(Path(urllib.request.url2pathname(path.removeprefix("file://"))))
    if Path(path).is_absolute() and Path(path).is_dir():
        return _Folder(Path(path))
    return _Folder(embedded_package_folder(path))
