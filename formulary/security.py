"""Security headers on every answer.

The Content-Security-Policy allows only the app's own scripts, styles, images and fonts
(no CDN, no inline script: pages keep their JavaScript in ``static/js``). Inline *styles*
are allowed because Bootstrap's components and the server-drawn SVG charts set them.

``Cache-Control: no-store`` on every page (HTML) and on every answer of the JSON API
(``/api/v1``, errors and the OpenAPI document included): most API answers carry patient
data or stock a browser or proxy must not keep, and one rule for the whole prefix cannot
miss a new route. Workbooks set it themselves (``reports.respond``).
"""

from __future__ import annotations

from flask import Flask, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
       "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


API_PREFIX = "/api/v1"


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


def install(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            h.setdefault("Strict-Transport-Security", "max-age=31536000")
        if response.mimetype == "text/html" or _is_api(request.path):
            h.setdefault("Cache-Control", "no-store")  # patient data must not linger in caches
        return response
