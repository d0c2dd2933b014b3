"""Snowplow's own tracker protocols: TP1 (GET), TP2 (GET or POST) and the ``r/tp2`` redirect.

Ports of Scala Common Enrich's ``Tp1Adapter``, ``Tp2Adapter`` and ``RedirectAdapter``, with
their error messages verbatim. A TP2 POST body is a ``payload_data`` self-describing JSON; its
events get the querystring merged in (querystring winning), which is how the collector's ``nuid``
and ``cv`` reach every event of a batch.
"""

from __future__ import annotations

import json
from typing import Any

from snowplow_dagster.enrich.iglu import check_self_describing
from snowplow_dagster.enrich.jackson import compact_json, json_depth_error
from snowplow_dagster.enrich.payload import CollectorPayload, ProcessingError, RawEvent
from snowplow_dagster.enrich.querystring import decode_base64url, encode_base64url

_JSON_CONTENT_TYPES = (
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=UTF-8",
)
_EXPECTED_CONTENT_TYPES = ", ".join(_JSON_CONTENT_TYPES)
_PAYLOAD_DATA = ("com.snowplowanalytics.snowplow", "payload_data", "jsonschema", 1)
_PAYLOAD_DATA_CRITERION = "com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-*"

UNSTRUCT_EVENT_SCHEMA = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
CONTEXTS_SCHEMA = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1"
URI_REDIRECT_SCHEMA = "iglu:com.snowplowanalytics.snowplow/uri_redirect/jsonschema/1-0-0"


def _reject_constant(name: str) -> None:
    raise ValueError(f"Non-standard token '{name}'")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # Jackson refuses NaN/Infinity


def tp1_to_raw_events(payload: CollectorPayload) -> list[RawEvent]:
    """A TP1 GET: the querystring is the one event (its dict is shared, not copied)."""
    if not payload.querystring:
        raise ProcessingError("Querystring is empty: no raw event to process")
    return [RawEvent(payload.querystring, payload)]


def tp2_to_raw_events(payload: CollectorPayload) -> list[RawEvent]:
    """A TP2 GET (one event) or POST (one event per ``payload_data`` element)."""
    querystring, body, content_type = payload.querystring, payload.body, payload.content_type
    if body is None and not querystring:
        raise ProcessingError(
            "Request body and querystring parameters empty, expected at least one populated"
        )
    if content_type is not None and content_type not in _JSON_CONTENT_TYPES:
        raise ProcessingError(
            f"Content type of {content_type} provided, expected one of: {_EXPECTED_CONTENT_TYPES}"
        )
    if body is not None and content_type is None:
        raise ProcessingError(
            "Request body provided but content type empty, expected one of: "
            + _EXPECTED_CONTENT_TYPES
        )
    if body is None:
        if content_type is not None:
            raise ProcessingError(f"Content type of {content_type} provided but request body empty")
        return [RawEvent(querystring, payload)]
    return [RawEvent({**event, **querystring}, payload) for event in _payload_data(body)]


def redirect_to_raw_events(payload: CollectorPayload) -> list[RawEvent]:
    """A click through ``/r/tp2?u=<target>``: the target becomes a ``uri_redirect`` entity.

    Without an ``e`` parameter the redirect is the event itself (``e=ue``); with one, it is added
    to the event's contexts (``cx`` if given, else ``co``).
    """
    params = payload.querystring
    if not params:
        raise ProcessingError("Querystring is empty: cannot be a valid URI redirect")
    if "u" not in params:
        raise ProcessingError("Querystring does not contain u parameter: not a valid URI redirect")
    redirect = {"schema": URI_REDIRECT_SCHEMA, "data": {"uri": params["u"]}}
    parameters = {name: value for name, value in params.items() if name != "u"}
    if "e" not in params:
        parameters["e"] = "ue"
        parameters["ue_pr"] = compact_json({"schema": UNSTRUCT_EVENT_SCHEMA, "data": redirect})
    elif "cx" in params:
        parameters["cx"] = _add_to_cx(redirect, params["cx"])
    elif params.get("co", "") != "":  # a "co" without "=" (None) fails to parse, as in Scala
        parameters["co"] = _add_to_co(redirect, params["co"])
    else:
        parameters["co"] = compact_json({"schema": CONTEXTS_SCHEMA, "data": [redirect]})
    parameters["tv"] = "r-tp2"
    parameters["p"] = params.get("p", "web")
    return [RawEvent(parameters, payload)]


def _payload_data(body: str) -> list[dict[str, str]]:
    """The events of a TP2 body, or every reason it is not a usable ``payload_data``."""
    instance = _read_json("Body", body)
    key, errors = check_self_describing(instance, expected=_PAYLOAD_DATA)
    if key is None or errors:
        raise ProcessingError(errors)
    if not key.version.startswith("1-0-"):
        raise ProcessingError(
            f"Verifying schema as {_PAYLOAD_DATA_CRITERION} failed: found {key.uri}"
        )
    events = instance["data"]
    if not isinstance(events, list) or not events:
        raise ProcessingError(
            f"Field [Body]: data of {_PAYLOAD_DATA_CRITERION} must be a non-empty array of events"
        )
    errors = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            errors.append(f"Field [Body]: event at index {index} is not a JSON object")
            continue
        errors.extend(
            f"Field [Body]: event at index {index}: value for key {name} is not a string"
            for name, value in event.items()
            if not isinstance(value, str)
        )
    if errors:
        raise ProcessingError(errors)
    return events


def _add_to_co(context: dict[str, Any], existing: str | None) -> str:
    """json4s ``merge`` of ``{"data": [context]}`` into the existing contexts JSON."""
    contexts = _read_json("co|cx", existing)
    if not isinstance(contexts, dict):
        return compact_json({"data": [context]})
    data = contexts.get("data")
    if not isinstance(data, list):
        data = [context]
    elif context not in data:
        data = [*data, context]
    return compact_json({**contexts, "data": data})


def _add_to_cx(context: dict[str, Any], existing: str | None) -> str:
    if existing is None:  # Scala: new String(null) inside decodeBase64Url
        raise ProcessingError(
            "Field [cx]: exception Base64-decoding [null] (URL-safe encoding): [null]"
        )
    return encode_base64url(_add_to_co(context, decode_base64url(existing)))


def _read_json(field: str, text: str | None) -> Any:
    """The first JSON value of ``text``, as Jackson's ``readTree`` reads it (rest ignored)."""
    try:
        if text is None:
            raise ValueError("argument text is null")
        start = len(text) - len(text.lstrip(" \t\n\r"))
        too_deep = json_depth_error(text, start)
        if too_deep is not None:
            raise ValueError(too_deep[0])
        value, _ = _DECODER.raw_decode(text, start)
    except ValueError as e:
        raise ProcessingError(
            f"Field [{field}]: invalid JSON [{text}] with parsing error: {e}"
        ) from None
    return value
