"""Turn one raw input line into a ``CollectorPayload``, per ``--input-format``.

A loader returns None for a line that is skipped silently (file headers, blank lines), raises
``ProcessingError`` for a line that becomes a bad row, and is chosen once, at start-up, so an
unusable input format fails the job before any data is read.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from snowplow_dagster.enrich.loaders.clj_tomcat import load_clj_tomcat
from snowplow_dagster.enrich.loaders.cloudfront import load_cloudfront
from snowplow_dagster.enrich.loaders.common import parse_api
from snowplow_dagster.enrich.loaders.ndjson import load_ndjson
from snowplow_dagster.enrich.loaders.tsv import load_tsv
from snowplow_dagster.enrich.payload import CollectorPayload, ProcessingError

Loader = Callable[[str], CollectorPayload | None]

SUPPORTED_INPUT_FORMATS = (
    "cloudfront",
    "clj-tomcat",
    "tsv/<vendor>/<version>",
    "ndjson/<vendor>/<version>",
)

_LINE_LOADERS = {"tsv": load_tsv, "ndjson": load_ndjson}


def get_loader(input_format: str) -> Loader:
    """The loader for an EmrEtlRunner/Spark Enrich ``--input-format`` value.

    Raises ValueError naming the format when it is unknown or unusable.
    """
    if input_format == "cloudfront":
        return load_cloudfront
    if input_format == "clj-tomcat":
        return load_clj_tomcat
    if input_format == "thrift":
        raise ValueError(
            "Input format [thrift] is not supported: Scala Stream Collector records come in "
            "LZO-compressed elephant-bird blocks, which this job cannot read; "
            f"supported input formats: {', '.join(SUPPORTED_INPUT_FORMATS)}"
        )
    kind, _, api_path = input_format.partition("/")
    line_loader = _LINE_LOADERS.get(kind)
    if line_loader is not None and api_path:
        try:
            api = parse_api(api_path)
        except ProcessingError:
            raise ValueError(
                f"Input format [{input_format}] does not name an adapter as "
                f"{kind}/<vendor>/<version>"
            ) from None
        return partial(line_loader, api)
    raise ValueError(
        f"[{input_format}] is not a recognised Snowplow event collector; "
        f"supported input formats: {', '.join(SUPPORTED_INPUT_FORMATS)}"
    )
