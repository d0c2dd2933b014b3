"""Realistic collector logs, for the demo, the tests and the benchmarks.

Lines look like what a Snowplow JavaScript tracker leaves in CloudFront (33-field access logs,
querystrings double-encoded as CloudFront does since 2013) or Clojure collector Tomcat logs
(GETs and TP2 POST batches with base64url bodies, ``cv`` and ``nuid`` appended). Visitors have
sessions, devices, user agents (browsers, phones, bots), IPs from the MaxMind test databases'
networks and elsewhere, and arrive from search engines, social sites, e-mail campaigns or
nowhere. Everything is drawn from one seeded ``random.Random``, so a seed always gives the same
lines, and timestamps only move forward.

With ``bad_fraction``, that share of lines is broken the ways real logs are (truncated lines,
other HTTP methods, unknown event codes, broken JSON, bots fetching ``/favicon.ico``...). Every
other line enriches to good events.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from gzip import GzipFile
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple
from urllib.parse import quote, quote_plus

InputFormat = Literal["cloudfront", "clj-tomcat"]

DEFAULT_START = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
"""Where timestamps start when no ``start`` is given: fixed, so output depends on the seed only."""

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


def generate_lines(
    input_format: InputFormat,
    events: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    bad_fraction: float = 0.0,
) -> Iterator[str]:
    """Log lines carrying ``events`` tracker events (a bad line counts as one), oldest first."""
    for line in generate_records(
        input_format, events, seed=seed, start=start, bad_fraction=bad_fraction
    ):
        yield line.text


def generate_records(
    input_format: InputFormat,
    events: int,
    *,
    seed: int = 0,
    start: datetime | None = None,
    bad_fraction: float = 0.0,
) -> Iterator[GeneratedLine]:
    """As ``generate_lines``, with each line's event count and whether it is meant to be good."""
    if input_format not in ("cloudfront", "clj-tomcat"):
        raise ValueError(f"Cannot generate [{input_format}] logs: use cloudfront or clj-tomcat")
    if not 0.0 <= bad_fraction <= 1.0:
        raise ValueError(f"bad_fraction must be between 0 and 1, not {bad_fraction}")
    traffic = _Traffic(random.Random(seed), start or DEFAULT_START)
    writer = _CloudFrontWriter(traffic) if input_format == "cloudfront" else _TomcatWriter(traffic)
    remaining = events
    while remaining > 0:
        traffic.tick()
        if bad_fraction and traffic.rng.random() < bad_fraction:
            yield GeneratedLine(writer.bad_line(), 1, False)
            remaining -= 1
            continue
        line = writer.good_line(remaining)
        remaining -= line.events
        yield line


def write_log_files(
    directory: Path,
    input_format: InputFormat,
    events: int,
    *,
    files: int = 1,
    gzip: bool = True,
    seed: int = 0,
    bad_fraction: float = 0.0,
    instance: str | None = None,
) -> list[Path]:
    """Write ``events`` events as ``files`` consecutive log files, named as the collector does.

    CloudFront: ``<distribution>.<yyyy-MM-dd-HH>.<id>.gz``, each starting with the two header
    lines; Clojure collector: Elastic Beanstalk's rotated
    ``_var_log_tomcat8_rotated_localhost_access_log.txt<epoch>.gz``, under ``instance`` (e.g.
    ``i-0a1b2c3d``) when given, as Beanstalk publishes them. ``directory`` is created if needed.
    """
    if files < 1:
        raise ValueError(f"files must be at least 1, not {files}")
    folder = directory / instance if instance else directory
    folder.mkdir(parents=True, exist_ok=True)
    names = _FileNames(input_format, seed, gzip)
    budgets = [events // files + (index < events % files) for index in range(files)]
    paths: list[Path] = []
    # zlib releases the GIL, so one thread compresses while this one generates lines.
    with ThreadPoolExecutor(max_workers=1) as compressor:
        log = _LogFile(folder / f".{len(paths)}.part", gzip, compressor, names.headers)
        used = 0
        for record in generate_records(input_format, events, seed=seed, bad_fraction=bad_fraction):
            log.write(record.text)
            used += record.events
            if used >= budgets[len(paths)] and len(paths) < files - 1:
                paths.append(log.close(names))
                log = _LogFile(folder / f".{len(paths)}.part", gzip, compressor, names.headers)
                used = 0
        paths.append(log.close(names))
        while len(paths) < files:
            log = _LogFile(folder / f".{len(paths)}.part", gzip, compressor, names.headers)
            paths.append(log.close(names))
    return paths


class _LogFile:
    """One log file being written, in chunks, to a temporary name until its lines name it."""

    _CHUNK_LINES = 2000

    def __init__(
        self, path: Path, gzip: bool, compressor: Executor, headers: tuple[str, ...]
    ) -> None:
        self._path = path
        self._compressor = compressor
        self._file = path.open("wb")
        self._out: BinaryIO = (
            GzipFile(filename="", mode="wb", fileobj=self._file, compresslevel=1, mtime=0)
            if gzip
            else self._file
        )
        self._lines = list(headers)
        self._pending: Future[int] | None = None
        self.first_line: str | None = None
        self.last_line: str | None = None

    def write(self, line: str) -> None:
        if self.first_line is None:
            self.first_line = line
        self.last_line = line
        self._lines.append(line)
        if len(self._lines) >= self._CHUNK_LINES:
            self._flush()

    def close(self, names: _FileNames) -> Path:
        self._flush()
        if self._pending is not None:
            self._pending.result()
        self._out.close()
        self._file.close()
        return self._path.rename(self._path.with_name(names.name(self.first_line, self.last_line)))

    def _flush(self) -> None:
        data = "".join(line + "\n" for line in self._lines).encode("utf-8")
        self._lines = []
        if self._pending is not None:
            self._pending.result()  # at most one chunk in flight: memory stays bounded
        self._pending = self._compressor.submit(self._out.write, data)


class _FileNames:
    """Names files as the collector's log shipping does, from their lines' timestamps."""

    def __init__(self, input_format: InputFormat, seed: int, gzip: bool) -> None:
        self._cloudfront = input_format == "cloudfront"
        self.headers = CLOUDFRONT_HEADERS if self._cloudfront else ()
        self._suffix = ".gz" if gzip else ""
        self._rng = random.Random(f"file-names-{seed}")
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        self._distribution = "E" + "".join(self._rng.choices(letters, k=13))
        self._last_epoch = int(DEFAULT_START.timestamp())

    def name(self, first_line: str | None, last_line: str | None) -> str:
        if self._cloudfront:  # the hour of its first line, and a unique id
            first = _line_epoch(first_line) if first_line else self._last_epoch
            self._last_epoch = max(self._last_epoch, first)
            hour = time.strftime("%Y-%m-%d-%H", time.gmtime(first))
            return f"{self._distribution}.{hour}.{self._rng.getrandbits(32):08x}{self._suffix}"
        # Rotated after its last line, and no two files alike.
        last = _line_epoch(last_line) if last_line else self._last_epoch
        self._last_epoch = max(self._last_epoch + 1, last + 1)
        return f"_var_log_tomcat8_rotated_localhost_access_log.txt{self._last_epoch}{self._suffix}"


def _line_epoch(line: str) -> int:
    """Epoch seconds of a generated line, whose first two fields are its UTC date and time."""
    date, clock = line.split("\t", 2)[:2]
    return int(datetime.fromisoformat(f"{date}T{clock}+00:00").timestamp())


# --- The simulated traffic --------------------------------------------------------------------

_USER_AGENTS = (
    # Desktop browsers
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/118.0.5993.118 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.72",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_2) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/34.0.1847.131 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0"
    " Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/116.0.0.0 Safari/537.36 YaBrowser/23.9.0.0",
    # Phones and tablets
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
    " like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
    " like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
    " like Gecko) CriOS/119.0.6045.109 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 5_1_1 like Mac OS X) AppleWebKit/534.46 (KHTML, like"
    " Gecko) Version/5.1 Mobile/9B206 Safari/7534.48.3",
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.6045.163 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.6045.163 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-A536B) AppleWebKit/537.36 (KHTML, like"
    " Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:120.0) Gecko/120.0 Firefox/120.0",
    "Mozilla/5.0 (Linux; Android 12; M2101K6G) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; SM-T500) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows Phone 8.0; Trident/6.0; IEMobile/10.0; ARM;"
    " Touch; NOKIA; Lumia 920)",
    "Mozilla/5.0 (Linux; Android 13; SM-G991B) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/119.0.0.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/441.0.0.32.113;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML,"
    " like Gecko) Mobile/15E148 Instagram 307.0.0.15.118",
    # Bots and tools
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1;"
    " +http://www.google.com/bot.html) Chrome/119.0.6045.159 Safari/537.36",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " HeadlessChrome/119.0.6045.105 Safari/537.36",
    "python-requests/2.31.0",
    "curl/8.4.0",
)
# Networks of the MaxMind test databases (City, ISP, Domain, Connection-Type all know some).
_TEST_DB_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "216.160.83.56/29",
        "89.160.20.112/28",
        "89.160.20.128/25",
        "81.2.69.142/31",
        "81.2.69.160/27",
        "2.125.160.216/29",
        "175.16.199.0/24",
        "67.43.156.0/24",
        "202.196.224.0/20",
        "1.128.0.0/24",
        "214.78.120.0/22",
        "149.101.100.0/28",
        "2001:218::/32",
        "2a02:cf40::/29",
    )
)
_PUBLIC_FIRST_OCTETS = (23, 31, 37, 45, 52, 64, 72, 77, 82, 86, 91, 94, 98, 104, 109, 151, 176)
_LANGUAGES = ("en-US", "en-GB", "de-DE", "fr-FR", "sv-SE", "es-ES", "ja-JP", "zh-CN", "pt-BR")
_TIMEZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Stockholm",
    "Asia/Tokyo",
    "Asia/Shanghai",
    "Australia/Sydney",
)
_SCREENS = (("1920x1080", "1903x969"), ("1366x768", "1349x657"), ("2560x1440", "2543x1297"))
_SCREENS += (("390x844", "390x664"), ("412x915", "412x777"), ("1440x900", "1425x789"))
_EDGES = ("FRA56-P1", "LHR61-C1", "IAD89-P2", "SFO5-C3", "NRT20-C2", "ARN54-C1", "SYD1-C2")
_SEARCH_TERMS = (
    "snowplow analytics",
    "trail running shoes",
    "waterproof jacket sale",
    "best hiking boots 2026",
    "acme discount code",
    "merino base layer",
)


class _Page(NamedTuple):
    path: str
    title: str


@dataclass(frozen=True)
class _Site:
    app_id: str
    host: str
    pages: tuple[_Page, ...]


_SITES = (
    _Site(
        "shop",
        "www.acme-outdoor.com",
        (
            _Page("/", "Acme Outdoor | Gear for every trail"),
            _Page("/men/jackets", "Men's Jackets | Acme Outdoor"),
            _Page("/women/shoes/trail-running", "Women's Trail Running Shoes | Acme Outdoor"),
            _Page("/products/storm-shell-jacket-2", "Storm Shell Jacket 2.0 – Acme Outdoor"),
            _Page("/products/ridge-runner-gtx", "Ridge Runner GTX – Acme Outdoor"),
            _Page("/basket", "Your basket"),
            _Page("/checkout/payment", "Checkout: payment"),
            _Page("/checkout/confirmation", "Thank you for your order!"),
            _Page("/search?q=rain%20jacket", "Search results for “rain jacket”"),
        ),
    ),
    _Site(
        "blog",
        "blog.acme-outdoor.com",
        (
            _Page("/", "The Acme Trail Journal"),
            _Page("/2026/11/layering-for-winter-hikes", "Layering for winter hikes"),
            _Page("/2026/10/kungsleden-in-autumn", "Kungsleden in autumn: 440 km north"),
            _Page("/tags/running", "Posts tagged #running"),
        ),
    ),
)
_CAMPAIGNS = (
    "utm_source=newsletter&utm_medium=email&utm_campaign=black_friday_2026",
    "utm_source=facebook&utm_medium=paid_social&utm_campaign=winter_sale&utm_content=carousel_a",
    "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=acme%20outdoor",
)
_SOCIAL_REFERERS = (
    "https://www.facebook.com/",
    "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.acme-outdoor.com%2F",
    "https://t.co/7xQ2kLmP9a",
    "https://www.instagram.com/",
)
_EMAIL_REFERERS = ("https://mail.google.com/mail/u/0/", "https://outlook.live.com/mail/0/inbox")
_LINK_TARGETS = (
    "https://www.instagram.com/acmeoutdoor/",
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://help.acme-outdoor.com/returns",
    "https://www.acme-outdoor.com/stores?city=Stockholm",
)
_STRUCT_EVENTS = (
    ("video", "play", "storm-shell-review", "hero", "0"),
    ("video", "complete", "storm-shell-review", "hero", "87.5"),
    ("ecommerce", "add-to-basket", "SKU-RR-GTX-42", "quantity", "1"),
    ("newsletter", "subscribe", "footer-form", None, None),
    ("filter", "apply", "colour=blue;size=M", "listing", None),
)
_PRODUCTS = (
    ("SKU-SSJ-2-M", "Storm Shell Jacket 2.0", "Jackets", "189.00"),
    ("SKU-RR-GTX-42", "Ridge Runner GTX", "Shoes", "139.95"),
    ("SKU-MBL-200", "Merino Base Layer 200", "Base layers", "59.50"),
    ("SKU-SOCK-3P", "Trail Socks (3-pack)", "Accessories", "19.99"),
)
_CITIES = (("Stockholm", "AB", "SE"), ("London", "ENG", "GB"), ("Seattle", "WA", "US"))
_TRACKERS = ("js-2.17.2", "js-2.18.1", "js-3.5.0")
_SESSION_TIMEOUT_MS = 30 * 60 * 1000
_CONTEXTS = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"
_UNSTRUCT = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"
_WEB_PAGE = "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"
_GEOLOCATION = "iglu:com.snowplowanalytics.snowplow/geolocation_context/jsonschema/1-0-0"
_LINK_CLICK = "iglu:com.snowplowanalytics.snowplow/link_click/jsonschema/1-0-1"
_PAYLOAD_DATA = "iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4"

_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


# Parameters whose values (ids, numbers, base64url) encodeURIComponent leaves as they are.
_URI_SAFE_PARAMETERS = frozenset(
    ("e", "eid", "dtm", "ttm", "vid", "sid", "pp_mix", "pp_max", "pp_miy", "pp_may", "cx", "ue_px")
)


_URI_COMPONENT_SAFE = "-_.!~*'()"
_ASCII_URI_COMPONENT = {
    code: f"%{code:02X}"
    for code in range(128)
    if not (chr(code).isalnum() or chr(code) in _URI_COMPONENT_SAFE)
}


@lru_cache(maxsize=8192)
def _encode_component(value: str) -> str:
    """JavaScript's ``encodeURIComponent`` (a table for ASCII text: contexts are long)."""
    if value.isascii():
        return value.translate(_ASCII_URI_COMPONENT)
    return quote(value, safe=_URI_COMPONENT_SAFE)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _base64url(text: str) -> str:
    """The JavaScript tracker's ``base64urlencode``: URL-safe alphabet, padding removed."""
    return base64.urlsafe_b64encode(text.encode("utf-8")).rstrip(b"=").decode("ascii")


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


# --- The collectors' log formats --------------------------------------------------------------


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
        if kind == 0:  # an unknown event code
            event["e"] = rng.choice(("page_view", "click", "PV", "xx"))
        elif kind == 1:  # a truncated contexts JSON
            event.pop("cx", None)
            event["co"] = _compact({"schema": _CONTEXTS, "data": []})[:-7]
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
        if kind == 0:  # an unknown event code
            event["e"] = rng.choice(("page_view", "click", "PV", "xx"))
        elif kind == 1:  # a truncated contexts JSON
            event.pop("cx", None)
            event["co"] = _compact({"schema": _CONTEXTS, "data": []})[:-7]
        elif kind == 2:  # sendBeacon's text/plain, which Snowplow 0.37 refuses
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
