"""The sites visited and how visitors find them: pages, searches, campaigns, products."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

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
