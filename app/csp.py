"""Content-Security-Policy for the HTML pages: a per-request script nonce and the policy header.

Scripts run only from our own origin or when they carry the request's nonce (folium's inline
map script, see :meth:`gis.maps.GridMap.parts`), so a name that slips HTML into a page still
cannot run script. Styles allow ``'unsafe-inline'``: folium writes ``<style>`` blocks and
Leaflet and our pages set ``style`` attributes (markers, cluster rings); style alone runs no
script, and every user text is escaped or set as text (static/js/core.js), so nothing of a
user's can reach a style either.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Flask, g

__all__ = ["csp_nonce", "init_app", "policy", "tile_source"]


def csp_nonce() -> str:
    """This request's script nonce (made on first use; templates call ``csp_nonce()``)."""
    nonce = g.get("_csp_nonce")
    if nonce is None:
        nonce = g._csp_nonce = secrets.token_urlsafe(18)
    return nonce


def tile_source(tile_url: str | None) -> str | None:
    """The CSP source expression for a base-map tile URL template, or None for our own origin.

    A ``{s}``-style placeholder in the host (tile subdomains) becomes a ``*.`` wildcard.

    Examples
    --------
    >>> tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    'https://*.tile.example.org'
    >>> tile_source("https://tiles.example.org:8443/{z}/{x}/{y}.png")
    'https://tiles.example.org:8443'
    >>> tile_source("/tiles/{z}/{x}/{y}.png") is None
    True
    """
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc.rsplit("@", 1)[-1]
    labels = host.split(".")
    templated = [i for i, label in enumerate(labels) if "{" in label]
    if templated:
        labels = ["*", *labels[templated[-1] + 1:]]
    return f"{parts.scheme}://{'.'.join(labels)}"


def policy(nonce: str | None, tile_url: str | None = None) -> str:
    """The Content-Security-Policy header value for an HTML page.

    Examples
    --------
    >>> p = policy("n0nce")
    >>> "script-src 'self' 'nonce-n0nce'" in p, "object-src 'none'" in p
    (True, True)
    >>> "img-src 'self' data: blob: https://*.t.example" in policy(None, "https://{s}.t.example/{z}/{x}/{y}.png")
    True
    """
    script = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    img = " ".join(filter(None, ["'self' data: blob:", tile_source(tile_url)]))
    return "; ".join((
        "default-src 'self'",
        f"script-src {script}",
        "style-src 'self' 'unsafe-inline'",
        f"img-src {img}",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'self'",
        "form-action 'self'",
    ))


def init_app(app: Flask) -> None:
    """Make ``csp_nonce()`` available to templates."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce
