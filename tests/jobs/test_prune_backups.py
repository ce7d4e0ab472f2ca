"""Which backups the nightly job removes: by when each was taken (its name), not by the
file's times, and never the one it has just written."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

from formulary.jobs.schedule import prune_backups

NOW = datetime(2027, 1, 20, 2, 0, tzinfo=timezone.utc)


def _backup(directory, name, *, mtime_days_ago: float):
    path = directory / name
    path.write_bytes(b"x")
    (directory / (name + ".head.json")).write_text("{}")
    at = time.time() - mtime_days_ago * 86400
    os.utime(path, (at, at))
    return path


def test_backups_are_aged_by_their_name_and_the_newest_is_kept(tmp_path):
    # taken 2 days ago, but the folder was copied back from an old archive (old mtime)
    recent = _backup(tmp_path, "formulary_2027-01-18_020000.sqlite", mtime_days_ago=400)
    # taken a month ago, copied yesterday (new mtime)
    old = _backup(tmp_path, "formulary_2026-12-20_020000.sqlite", mtime_days_ago=1)
    # a file of ours without a stamp: aged by its file time
    stray = _backup(tmp_path, "formulary_manual.sqlite", mtime_days_ago=400)
    # the one just written, whatever its name says, stays
    just = _backup(tmp_path, "formulary_1999-01-01_020000.sqlite", mtime_days_ago=0)
    assert prune_backups(tmp_path, 14, now=NOW, keep=just) == 2
    assert recent.exists() and (tmp_path / (recent.name + ".head.json")).exists()
    assert just.exists()
    assert not old.exists() and not (tmp_path / (old.name + ".head.json")).exists()
    assert not stray.exists()
