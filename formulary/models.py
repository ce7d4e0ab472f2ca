"""Imports every area's models, so that the metadata (and Alembic) sees all tables."""

import importlib
import importlib.util

MODEL_AREAS = ("auth", "audit", "inventory", "cocktails", "patients", "compounding", "reports",
               "courses", "recalls", "jobs")


def load_all() -> None:
    for area in MODEL_AREAS:
        name = f"formulary.{area}.models"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    # The triggers keeping the ledger and the audit log append-only (on create_all).
    importlib.import_module("formulary.append_only")
