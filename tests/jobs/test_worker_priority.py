"""The worker runs at a lower CPU priority than the server (``WORKER_NICE``): a long
export yields the processor to the pages a person is waiting for. Checked in a process of
its own (niceness, once raised, is the process's for good)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import os
from flask import Flask
from formulary.jobs.cli import lower_priority
app = Flask("probe")
app.config["WORKER_NICE"] = {step}
print(os.nice(0), lower_priority(app), os.nice(0))
"""


@pytest.mark.parametrize("step", [0, 7])
def test_the_worker_takes_its_niceness_from_the_setting(step):
    if not hasattr(os, "nice"):
        pytest.skip("no process priorities here")
    out = subprocess.run([sys.executable, "-c", PROBE.format(step=step)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True).stdout.split()
    before, reported, after = map(int, out[-3:])
    assert reported == after == min(before + step, 19)
