"""The kinds of job, a registry: a kind is a name, a label, who may ask for it, and the
function that does the work. Adding one is one :func:`register` call (the exports add
theirs through :func:`formulary.reports.export_jobs.register_export`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """What a finished job leaves: a file (``path`` renamed into place when complete and
    the ``filename`` it is downloaded as), and a line saying what was done."""

    path: str | None = None
    filename: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class JobKind:
    name: str
    label: str
    #: ``run(job_run) -> Outcome``; raises to fail the job (the message is the reason).
    run: Callable[[Any], Outcome]
    #: Whether its file is offered for download (to the user who asked and to admins).
    downloadable: bool = True


KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    KINDS[kind.name] = kind
    return kind


def load_kinds() -> None:
    """Import the modules that register kinds (each registers on import)."""
    import formulary.jobs.schedule  # noqa: F401  backup, digest
    import formulary.reports.delivery_jobs  # noqa: F401  delivery import
    import formulary.reports.export_jobs  # noqa: F401  exports
