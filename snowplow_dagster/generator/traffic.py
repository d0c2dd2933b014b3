"""The simulated traffic: visitors with sessions browsing the sites, event by event."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote_plus

from snowplow_dagster.generator.browsers import (
    _LANGUAGES,
    _PUBLIC_FIRST_OCTETS,
    _SCREENS,
    _TEST_DB_NETWORKS,
    _TIMEZONES,
    _TRACKERS,
    _USER_AGENTS,
)
from snowplow_dagster.generator.encoding import _base64url, _compact, _encode_component
from snowplow_dagster.generator.sites import (
    _CAMPAIGNS,
    _CITIES,
    _EMAIL_REFERERS,
    _LINK_TARGETS,
    _PRODUCTS,
    _SEARCH_TERMS,
    _SITES,
    _SOCIAL_REFERERS,
    _STRUCT_EVENTS,
    _Site,
)

_SESSION_TIMEOUT_MS = 30 * 60 * 1000
_CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"
_UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
_WEB_PAGE = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
_GEOLOCATION = "iglu:com.snowplowanalytics.snowplow/geolocation_context/jsonschema/1-0-0"
_LINK_CLICK = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"

_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


@dataclass(slots=True)
class _Visitor:
    """A browser: its device, identity, current session and the page it is on."""

    duid: str
    nuid: str
    ip: str
    useragent: str
    site: _Site
    encode_base64: bool
    constant: dict[str, str]
    """Tracker parameters that never change for this browser (tv, aid, p, lang, res...)."""
    constant_qs: str
    sid: str = ""
    vid: int = 0
    last_ms: int = -_SESSION_TIMEOUT_MS
    page_url: str = ""
    page_title: str = ""
    referer: str = ""
    page_view_id: str = ""
    page_contexts: tuple[str, str] = ("", "")
    """The page's contexts parameter (``co`` or ``cx``) and value, shared by its events."""


class _Traffic:
    """Visitors browsing the sites; each call makes the events of one request."""

    def __init__(self, rng: random.Random, start: datetime) -> None:
        self.rng = rng
        self.now_ms = int(start.timestamp() * 1000)
        self.visitors: list[_Visitor] = []
        self._queue: deque[tuple[_Visitor, dict[str, str]]] = deque()

    def tick(self) -> None:
        self.now_ms += int(self.rng.random() * 120)

    def uuid(self) -> str:
        """A random (version 4) UUID, as ``uuid.UUID(int=..., version=4)`` but faster."""
        bits = self.rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
        text = f"{bits:032x}"
        return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

    def visitor(self) -> _Visitor:
        """A returning visitor mostly; a new one now and then, the pool staying bounded."""
        rng = self.rng
        if len(self.visitors) < 50 or rng.random() < 0.02:
            visitor = self._new_visitor()
            if len(self.visitors) < 2000:
                self.visitors.append(visitor)
            else:
                self.visitors[rng.randrange(2000)] = visitor
            return visitor
        return self.visitors[int(rng.random() * len(self.visitors))]

    def _new_visitor(self) -> _Visitor:
        rng = self.rng
        site = rng.choice(_SITES)
        screen, viewport = rng.choice(_SCREENS)
        duid = f"{rng.getrandbits(64):016x}"
        constant = {
            "tv": rng.choice(_TRACKERS),
            "tna": "cf",
            "aid": site.app_id,
            "p": "web",
            "tz": rng.choice(_TIMEZONES),
            "lang": rng.choice(_LANGUAGES),
            "cs": "UTF-8",
            "f_pdf": "1",
            "f_qt": "0",
            "f_realp": "0",
            "f_wma": "0",
            "f_dir": "0",
            "f_fla": str(rng.randrange(2)),
            "f_java": "0",
            "f_gears": "0",
            "f_ag": "0",
            "res": screen,
            "cd": "24",
            "cookie": "1",
            "vp": viewport,
            "ds": f"{viewport.split('x')[0]}x{rng.randrange(900, 6000)}",
            "duid": duid,
        }
        if rng.random() < 0.3:
            constant["fp"] = str(rng.getrandbits(31))
        if rng.random() < 0.1:
            constant["uid"] = f"customer-{rng.randrange(100000)}@example.com"
        return _Visitor(
            duid=duid,
            nuid=self.uuid(),
            ip=self._ip(),
            useragent=rng.choice(_USER_AGENTS),
            site=site,
            encode_base64=rng.random() < 0.5,
            constant=constant,
            constant_qs="&".join(f"{k}={_encode_component(v)}" for k, v in constant.items()),
        )

    def _ip(self) -> str:
        rng = self.rng
        if rng.random() < 0.6:
            network = rng.choice(_TEST_DB_NETWORKS)
            return str(network[rng.randrange(min(network.num_addresses, 1 << 16))])
        first = rng.choice(_PUBLIC_FIRST_OCTETS)
        return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"

    def next_event(self) -> tuple[_Visitor, dict[str, str]]:
        """The next single event to send, e.g. as a GET; a transaction's items come next."""
        if self._queue:
            return self._queue.popleft()
        visitor = self.visitor()
        first, *rest = self._next(visitor)
        self._queue.extend((visitor, event) for event in rest)
        return visitor, first

    def batch(self, count: int) -> tuple[_Visitor, list[dict[str, str]]]:
        """``count`` events of one visitor for one POST; a transaction's extra items come next."""
        visitor = self.visitor()
        events: list[dict[str, str]] = []
        while len(events) < count:
            events.extend(self._next(visitor))
        self._queue.extend((visitor, event) for event in events[count:])
        return visitor, events[:count]

    def _next(self, visitor: _Visitor) -> list[dict[str, str]]:
        rng = self.rng
        if self.now_ms - visitor.last_ms > _SESSION_TIMEOUT_MS:
            visitor.sid, visitor.vid = self.uuid(), visitor.vid + 1
            visitor.page_url = ""
        visitor.last_ms = self.now_ms
        # Thresholds give ~55% page views, 25% pings, 8% structured, 7% unstructured events
        # and 5% transactions with their items (about 3 events per transaction).
        roll = rng.random()
        if not visitor.page_url or roll < 0.56:
            return [self._page_view(visitor)]
        if roll < 0.818:
            offsets = sorted(rng.randrange(0, 2000, 10) for _ in range(4))
            return [
                self._event(
                    visitor,
                    "pp",
                    {
                        "pp_mix": "0",
                        "pp_max": str(offsets[0]),
                        "pp_miy": str(offsets[1]),
                        "pp_may": str(offsets[3]),
                    },
                )
            ]
        if roll < 0.90:
            category, action, label, prop, value = rng.choice(_STRUCT_EVENTS)
            params = {"se_ca": category, "se_ac": action, "se_la": label}
            if prop is not None:
                params["se_pr"] = prop
            if value is not None:
                params["se_va"] = value
            return [self._event(visitor, "se", params)]
        if roll < 0.983:
            click = {
                "targetUrl": rng.choice(_LINK_TARGETS),
                "elementId": f"link-{rng.randrange(40)}",
                "elementClasses": ["nav", "external"],
            }
            unstruct = _compact(
                {"schema": _UNSTRUCT, "data": {"schema": _LINK_CLICK, "data": click}}
            )
            geolocation = {
                "schema": _GEOLOCATION,
                "data": {"latitude": 59.3293, "longitude": 18.0686, "altitude": 28.5},
            }
            params = (
                {"ue_px": _base64url(unstruct)} if visitor.encode_base64 else {"ue_pr": unstruct}
            )
            return [self._event(visitor, "ue", params, extra_context=geolocation)]
        return self._transaction(visitor)

    def _page_view(self, visitor: _Visitor) -> dict[str, str]:
        rng = self.rng
        page = rng.choice(visitor.site.pages)
        url = f"https://{visitor.site.host}{page.path}"
        if visitor.page_url:  # an internal link
            referer = visitor.page_url
        else:  # a session's landing page
            referer, url = self._landing(visitor, url)
        visitor.page_url, visitor.page_title, visitor.referer = url, page.title, referer
        visitor.page_view_id = self.uuid()
        visitor.page_contexts = _contexts_parameter(visitor)
        return self._event(visitor, "pv", {"page": page.title})

    def _landing(self, visitor: _Visitor, url: str) -> tuple[str, str]:
        rng = self.rng
        separator = "&" if "?" in url else "?"
        source = rng.random()
        if source < 0.35:
            engine = "www.google.com" if rng.random() < 0.8 else "www.bing.com"
            query = quote_plus(rng.choice(_SEARCH_TERMS))
            if rng.random() < 0.3:
                click_id = "gclid" if engine == "www.google.com" else "msclkid"
                url += f"{separator}{click_id}={rng.getrandbits(96):024x}"
            return f"https://{engine}/search?q={query}", url
        if source < 0.5:
            return rng.choice(_SOCIAL_REFERERS), url + separator + _CAMPAIGNS[1]
        if source < 0.6:
            return rng.choice(_EMAIL_REFERERS), url + separator + _CAMPAIGNS[0]
        if source < 0.65:
            return (
                "https://www.acme-outdoor.com/",
                url + f"{separator}_sp={visitor.duid}.{self.now_ms}",
            )
        if source < 0.7:
            return "https://www.google.com/", url + separator + _CAMPAIGNS[2]
        return "", url

    def _transaction(self, visitor: _Visitor) -> list[dict[str, str]]:
        rng = self.rng
        order = f"ORD-{rng.randrange(10**8):08d}"
        city, state, country = rng.choice(_CITIES)
        items = rng.sample(_PRODUCTS, rng.randint(1, 3))
        quantities = [rng.randint(1, 2) for _ in items]
        total = sum(float(price) * qty for (*_, price), qty in zip(items, quantities, strict=True))
        events = [
            self._event(
                visitor,
                "tr",
                {
                    "tr_id": order,
                    "tr_af": "web",
                    "tr_tt": f"{total + 4.95:.2f}",
                    "tr_tx": f"{total * 0.2:.2f}",
                    "tr_sh": "4.95",
                    "tr_ci": city,
                    "tr_st": state,
                    "tr_co": country,
                    "tr_cu": "EUR",
                },
            )
        ]
        for (sku, name, category, price), quantity in zip(items, quantities, strict=True):
            item = {
                "ti_id": order,
                "ti_sk": sku,
                "ti_nm": name,
                "ti_ca": category,
                "ti_pr": price,
                "ti_qu": str(quantity),
                "ti_cu": "EUR",
            }
            events.append(self._event(visitor, "ti", item))
        return events

    def _event(
        self,
        visitor: _Visitor,
        code: str,
        params: dict[str, str],
        extra_context: dict[str, object] | None = None,
    ) -> dict[str, str]:
        """The per-event parameters (the visitor's constant ones are added by the writers)."""
        rng = self.rng
        created = self.now_ms - 30 - int(rng.random() * 1470)
        event = {"e": code, "url": visitor.page_url, "page": visitor.page_title}
        if visitor.referer:
            event["refr"] = visitor.referer
        event.update(params)
        event["eid"] = self.uuid()
        event["dtm"] = str(created)
        if rng.random() < 0.03:
            event["ttm"] = str(created)
        event["vid"] = str(visitor.vid)
        event["sid"] = visitor.sid
        name, contexts = (
            visitor.page_contexts
            if extra_context is None
            else _contexts_parameter(visitor, extra_context)
        )
        event[name] = contexts
        return event


def _contexts_parameter(
    visitor: _Visitor, extra_context: dict[str, object] | None = None
) -> tuple[str, str]:
    """The ``co`` (JSON) or ``cx`` (base64url) parameter: the web_page context, and another."""
    contexts: list[object] = [{"schema": _WEB_PAGE, "data": {"id": visitor.page_view_id}}]
    if extra_context is not None:
        contexts.append(extra_context)
    co = _compact({"schema": _CONTEXTS, "data": contexts})
    return ("cx", _base64url(co)) if visitor.encode_base64 else ("co", co)
