"""Turn an enrichment's ``uri`` + ``database`` pair into a local file the enrichment can open.

Snowplow joins the two as ``uri + "/" + database`` and fetches the result into the Hadoop
distributed cache. Here:

- a local directory (absolute, or relative to the working directory) or a ``file://`` URI is
  used in place; the enrichments-folder loader has already made paths relative to the enrichment
  file absolute;
- ``s3://bucket/prefix`` is downloaded once per process with boto3 (default credential chain;
  ``AWS_ENDPOINT_URL`` is honoured by botocore) into ``$SNOWPLOW_DAGSTER_CACHE`` (default: a
  ``snowplow-dagster-cache`` folder in the temp directory). The cached file is named after the
  object's ETag, so other processes reuse it and a replaced object is fetched again;
- ``http(s)://`` is refused: the pipeline does not reach the internet at run time, so the file
  has to be mirrored to S3 or to a local path first.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from snowplow_dagster.enrich.enrichments.config import EnrichmentConfigError

CACHE_ENV = "SNOWPLOW_DAGSTER_CACHE"


def resolve_database(uri: str, database: str, path: str) -> Path:
    """The local file for ``uri``/``database``; ``path`` names the config key in errors."""
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        return _s3_file(parts.netloc, _join_key(parts.path, database))
    if parts.scheme in ("http", "https"):
        raise EnrichmentConfigError(
            f"{path}.uri is an {parts.scheme}:// URI, but this pipeline does not download over "
            f"HTTP: mirror {database} to S3 (s3://bucket/prefix) or to a local directory and "
            f"point uri at it"
        )
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise EnrichmentConfigError(f"{path}.uri is a file:// URI on another host")
        directory = Path(unquote(parts.path))
    elif parts.scheme:
        raise EnrichmentConfigError(
            f"{path}.uri has unsupported scheme {parts.scheme}://; use s3://, file:// or a path"
        )
    else:
        directory = Path(uri)
    local = directory / database
    if not local.is_file():
        raise EnrichmentConfigError(f"{path}: {local} does not exist or is not a file")
    return local


def _cache_directory() -> Path:
    directory = Path(
        os.environ.get(CACHE_ENV) or Path(tempfile.gettempdir(), "snowplow-dagster-cache")
    )
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _join_key(prefix: str, database: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{database}" if prefix else database


@functools.cache
def _s3_file(bucket: str, key: str) -> Path:
    """Download once per process; later calls (other enrichments, rebuilt registries) reuse it."""
    import boto3  # only configs that use S3 pay for importing boto3
    from botocore.exceptions import BotoCoreError, ClientError

    s3_uri = f"s3://{bucket}/{key}"
    client = boto3.client("s3")
    try:
        etag = client.head_object(Bucket=bucket, Key=key)["ETag"]
        name = hashlib.sha256(s3_uri.encode()).hexdigest()[:16]
        tag = re.sub(r"[^A-Za-z0-9-]", "", etag)
        target = _cache_directory() / f"{name}-{tag}-{Path(key).name}"
        if not target.is_file():
            partial = target.with_name(f"{target.name}.{os.getpid()}.part")
            client.download_file(bucket, key, str(partial))
            partial.replace(target)
    except (BotoCoreError, ClientError) as error:
        raise EnrichmentConfigError(f"Cannot fetch {s3_uri}: {error}") from error
    return target
