"""Real gunicorn servers of the app on loopback, for the tests and benchmarks that need
separate processes (races through HTTP, a killed worker, dropped connections, load)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: A WSGI module serving the app of ``TestingConfig`` on the database ``DATABASE_URL``.
TESTING_WSGI = """
import os
from config import TestingConfig
from formulary import create_app

class ServedConfig(TestingConfig):
    SQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]

app = create_app(ServedConfig)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (gunicorn's workers), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


class Gunicorn:
    """``with Gunicorn("wsgi:app", env={"DATABASE_URL": url}) as server: server.base``

    ``env`` is laid over this process's environment (``None`` removes a variable);
    ``options`` are further gunicorn options; the server's stderr goes to ``log``
    (discarded without one). ``__enter__`` returns once ``/health`` answers 200, and
    fails if it does not within ``start_timeout`` seconds or the server exits.
    """

    def __init__(self, app: str, *, env: dict[str, str | None], workers: int = 4,
                 options: tuple[str, ...] = (), log: Path | None = None,
                 start_timeout: float = 60):
        self.app, self.env, self.workers, self.options = app, env, workers, options
        self.log, self.start_timeout = log, start_timeout

    @classmethod
    def testing(cls, url: str, tmp_path: Path, **kw) -> "Gunicorn":
        """The app of ``TestingConfig`` on ``url``, its module written in ``tmp_path``
        (stderr to ``tmp_path / "gunicorn.log"``)."""
        (tmp_path / "served_wsgi.py").write_text(TESTING_WSGI)
        options = ("--pythonpath", f"{ROOT},{tmp_path}", *kw.pop("options", ()))
        return cls("served_wsgi:app", env={"DATABASE_URL": url}, options=options,
                   log=tmp_path / "gunicorn.log", **kw)

    def __enter__(self) -> "Gunicorn":
        self.port = port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = dict(os.environ)
        for name, value in self.env.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        command = [str(Path(sys.executable).with_name("gunicorn")), "-w", str(self.workers),
                   "-b", f"127.0.0.1:{port}", "--no-control-socket", *self.options, self.app]
        err = open(self.log, "wb") if self.log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                         stderr=err)
        finally:
            if self.log:
                err.close()
        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/health", timeout=2)
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__(None, None, None)
                    said = self.log.read_text() if self.log else ""
                    raise RuntimeError(f"gunicorn did not start: {said}") from None
                time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        return _children(self.proc.pid)

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.proc.kill()
            self.proc.wait(5)
