"""The benchmarks (``python -m bench NAME``; ``bench/README.md``).

Several build their app on ``config.TestingConfig``, whose job queue and files live in a
directory per process: as in the test suite (``tests/conftest.py``), every process of one
benchmark run (the servers and workers it starts inherit the environment) puts them
under one directory made for the run, removed when the run ends.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if "FORMULARY_TEST_TMP" not in os.environ:
    os.environ["FORMULARY_TEST_TMP"] = tempfile.mkdtemp(prefix="formulary-bench-")
    atexit.register(shutil.rmtree, os.environ["FORMULARY_TEST_TMP"], ignore_errors=True)
