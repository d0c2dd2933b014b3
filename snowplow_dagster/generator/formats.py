"""The collectors' log formats: CloudFront access logs and Clojure collector Tomcat logs."""

from __future__ import annotations

import base64
import random
import time
from functools import lru_cache
from typing import Literal, NamedTuple
from urllib.parse import quote_plus

from snowplow_dagster.generator.encoding import _base64url, _compact, _encode_component
from snowplow_dagster.generator.traffic import _CONTEXTS, _WEB_PAGE, _Traffic, _Visitor

InputFormat = Literal["cloudfront", "clj-tomcat"]

CLOUDFRONT_HEADERS = (
    "#Version: 1.0",
    "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
    "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
    "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
    "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
    "sc-range-start sc-range-end",
)

COLLECTOR_VERSION = "clj-1.1.0-tom-0.2.0"


class GeneratedLine(NamedTuple):
    """One log line, how many tracker events it carries, and whether it should enrich cleanly."""

    text: str
    events: int
    good: bool


_EDGES = ("FRA56-P1", "LHR61-C1", "IAD89-P2", "SFO5-C3", "NRT20-C2", "ARN54-C1", "SYD1-C2")
_PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"

# Parameters whose values (ids, numbers, base64url) encodeURIComponent leaves as they are.
_URI_SAFE_PARAMETERS = frozenset(
    ("e", "eid", "dtm", "ttm", "vid", "sid", "pp_mix", "pp_max", "pp_miy", "pp_may", "cx", "ue_px")
)


class _CloudFrontWriter:
    """GETs to the CloudFront collector's ``/i`` pixel, logged in the 33-field 2019+ format."""

    def __init__(self, traffic: _Traffic) -> None:
        self.traffic = traffic
        self._distribution = f"d{traffic.rng.getrandbits(52):013x}.cloudfront.net"

    def good_line(self, budget: int) -> GeneratedLine:
        visitor, event = self.traffic.next_event()
        return GeneratedLine(
            self._line(visitor, _querystring(visitor, event, self.traffic.now_ms)), 1, True
        )

    def bad_line(self) -> str:
        rng = self.traffic.rng
        visitor, event = self.traffic.next_event()
        kind = rng.randrange(6)
        _spoil_event(kind, event, rng)
        line = self._line(visitor, _querystring(visitor, event, self.traffic.now_ms))
        fields = line.split("\t")
        if kind == 2:  # a log line cut short
            return "\t".join(fields[: rng.randint(3, 10)])
        if kind == 3:  # a browser preflight, a crawler's HEAD...
            fields[5] = rng.choice(("OPTIONS", "HEAD", "POST", "PUT"))
        elif kind == 4:  # not the tracker's pixel
            fields[7] = rng.choice(("/favicon.ico", "/robots.txt", "/apple-touch-icon.png"))
            fields[11] = "-"
        elif kind == 5:  # the pixel without a querystring
            fields[11] = "-"
        return "\t".join(fields)

    def _line(self, visitor: _Visitor, query: str) -> str:
        rng, now_ms = self.traffic.rng, self.traffic.now_ms
        date, clock = _utc_date_time(now_ms // 1000)
        client_ip, forwarded_for = visitor.ip, "-"
        if rng.random() < 0.05:  # through a proxy: the client is in X-Forwarded-For
            client_ip, forwarded_for = f"52.{rng.randrange(256)}.{rng.randrange(256)}.7", visitor.ip
        # The pixel's referer is the page; CloudFront double-encodes its "%" and the query's.
        referer = visitor.page_url.replace("%", "%25")
        request_id = base64.b64encode(rng.randbytes(42)).decode("ascii")
        fields = (
            date,
            clock,
            _EDGES[int(rng.random() * len(_EDGES))],
            "474",
            client_ip,
            "GET",
            self._distribution,
            "/i",
            "200",
            referer,
            _cloudfront_useragent(visitor.useragent),
            query.replace("%", "%25"),
            "-",
            "Hit",
            request_id,
            "sp.acme-outdoor.com",
            "https",
            str(len(query) + 420),
            f"0.00{1 + int(rng.random() * 9)}",
            forwarded_for,
            "TLSv1.3",
            "TLS_AES_128_GCM_SHA256",
            "Hit",
            "HTTP/2.0",
            "-",
            "-",
            str(1024 + int(rng.random() * 64512)),
            "0.001",
            "Hit",
            "image/gif",
            "43",
            "-",
            "-",
        )
        return "\t".join(fields)


class _TomcatWriter:
    """The Clojure collector's Tomcat valve: GETs to ``/i`` and TP2 POST batches."""

    def __init__(self, traffic: _Traffic) -> None:
        self.traffic = traffic

    def good_line(self, budget: int) -> GeneratedLine:
        traffic, rng = self.traffic, self.traffic.rng
        if budget > 1 and rng.random() < 0.2:
            visitor, events = traffic.batch(rng.randint(1, 5))
            events = events[:budget]
            return GeneratedLine(self._post(visitor, events), len(events), True)
        visitor, event = traffic.next_event()
        query = _querystring(visitor, event, traffic.now_ms)
        return GeneratedLine(self._get(visitor, query), 1, True)

    def bad_line(self) -> str:
        traffic, rng = self.traffic, self.traffic.rng
        visitor, event = traffic.next_event()
        kind = rng.randrange(7)
        _spoil_event(kind, event, rng)
        if kind == 2:  # sendBeacon's text/plain, which Snowplow 0.37 refuses
            return self._post(visitor, [event], content_type="text/plain;charset=UTF-8")
        query = _querystring(visitor, event, traffic.now_ms)
        if kind == 3:  # a tracker that forgot to encode a "%"
            query += "&page_progress=100%"
        line = self._get(visitor, query)
        fields = line.split("\t")
        if kind == 4:  # a log line cut short
            return "\t".join(fields[: rng.randint(3, 10)])
        if kind == 5:  # a body sent with another method
            fields[5] = rng.choice(("PUT", "GET", "DELETE"))
            fields[15] = quote_plus("application/json")
            fields[16] = _base64url(_compact({"schema": _PAYLOAD_DATA, "data": [event]}))
        elif kind == 6:  # not the tracker's pixel
            fields[7] = rng.choice(("/favicon.ico", "/robots.txt", "/wp-login.php"))
        return "\t".join(fields)

    def _get(self, visitor: _Visitor, query: str) -> str:
        return self._line(visitor, "GET", "/i", query, "-", "-")

    def _post(
        self,
        visitor: _Visitor,
        events: list[dict[str, str]],
        content_type: str = "application/json; charset=UTF-8",
    ) -> str:
        sent = str(self.traffic.now_ms - int(self.traffic.rng.random() * 25))  # after any dtm
        payload = [{**visitor.constant, **event, "stm": sent} for event in events]
        body = _base64url(_compact({"schema": _PAYLOAD_DATA, "data": payload}))
        path = "/com.snowplowanalytics.snowplow/tp2"
        return self._line(visitor, "POST", path, "", quote_plus(content_type), body)

    def _line(
        self, visitor: _Visitor, method: str, path: str, query: str, content_type: str, body: str
    ) -> str:
        date, clock = _utc_date_time(self.traffic.now_ms // 1000)
        fields = (
            date,
            clock,
            "-",
            "43" if method == "GET" else "-",
            visitor.ip,
            method,
            visitor.ip,
            path,
            "200",
            visitor.page_url or "-",
            quote_plus(visitor.useragent, safe="*").replace("~", "%7E"),  # Java's URLEncoder
            f"{query}&cv={COLLECTOR_VERSION}&nuid={visitor.nuid}",
            "-",
            "-",
            "-",
            content_type,
            body,
        )
        return "\t".join(fields)


def _spoil_event(kind: int, event: dict[str, str], rng: random.Random) -> None:
    """The faults both formats put in the event itself: kind 0 an unknown event code, kind 1
    contexts a tracker got wrong (half truncated JSON, half a web_page context with a property its
    schema forbids: a schema bad row once Iglu validates); any other kind is the writer's own, on
    the line. The half is chosen by the event id, so the random stream is unchanged."""
    if kind == 0:
        event["e"] = rng.choice(("page_view", "click", "PV", "xx"))
    elif kind == 1:
        event.pop("cx", None)
        if event["eid"][0] < "8":
            page = {"id": event["eid"], "pageType": "article"}
            event["co"] = _compact(
                {"schema": _CONTEXTS, "data": [{"schema": _WEB_PAGE, "data": page}]}
            )
        else:
            event["co"] = _compact({"schema": _CONTEXTS, "data": []})[:-7]


def _querystring(visitor: _Visitor, event: dict[str, str], now_ms: int) -> str:
    """A tracker GET's querystring: event parameters, the visitor's constant ones, ``stm``."""
    parts = [
        f"{name}={value}" if name in _URI_SAFE_PARAMETERS else f"{name}={_encode_component(value)}"
        for name, value in event.items()
    ]
    parts.append(visitor.constant_qs)
    parts.append(f"stm={now_ms - 3}")
    return "&".join(parts)


@lru_cache(maxsize=64)
def _cloudfront_useragent(useragent: str) -> str:
    """CloudFront logs the user agent with spaces (and "%") percent-encoded."""
    return useragent.replace("%", "%25").replace(" ", "%20")


@lru_cache(maxsize=4)
def _utc_date_time(epoch_seconds: int) -> tuple[str, str]:
    moment = time.gmtime(epoch_seconds)
    return time.strftime("%Y-%m-%d", moment), time.strftime("%H:%M:%S", moment)
