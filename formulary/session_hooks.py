"""Hooks on the Session class: the books kept up to date at flush and commit.

Several areas keep something beside their rows (the stock totals, the weekly usage, the
batch tally, the stock and course revisions, the audit chain) by listening to SQLAlchemy's
session events. ``install_hooks`` is the one way they hook on: once per Session class,
listeners in the order given. The order matters where two areas listen to one event:
SQLAlchemy runs a class's listeners of an event in the order they were added, and the
locks taken at commit must always be taken in one order (``inventory.totals.install``
says which). ``create_app`` installs them all, in that order.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import event


def install_hooks(session_class, name: str, **listeners: Callable) -> bool:
    """Listen on ``session_class`` with each of ``listeners`` (``event_name=function``, in
    the order given), unless the hooks called ``name`` are on it already (a subclass of a
    class that has them has them too: its sessions run its parent's listeners).

    Returns whether they were installed now (``False``: they already were)."""
    marker = f"_formulary_hooks_{name}"
    if getattr(session_class, marker, False):
        return False
    setattr(session_class, marker, True)
    for event_name, listener in listeners.items():
        event.listen(session_class, event_name, listener)
    return True
