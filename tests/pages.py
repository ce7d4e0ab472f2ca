"""Helpers for tests that compare whole pages."""

from __future__ import annotations

import re


def without_csrf(html: str) -> str:
    """The page without its CSRF tokens: a token carries the second it was signed in, so
    two views of one page a second apart differ there and nowhere else."""
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', html)
