"""/baseline (the benchmarks' reference page) only when benchmarking; /favicon.ico served."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("role", ["admin", "pharmacist", "manager", "practitioner"])
def test_baseline_is_not_there_in_production(app, client, login_as, role):
    login_as(role)
    app.config["TESTING"] = False   # as in production: neither testing nor BENCHMARK
    app.config["BENCHMARK"] = False
    assert client.get("/baseline").status_code == 404


def test_baseline_is_there_when_benchmarking(app, client, login_as):
    login_as("manager")
    app.config["TESTING"] = False
    app.config["BENCHMARK"] = True
    assert client.get("/baseline").status_code == 200
    app.config["BENCHMARK"] = False
    app.config["TESTING"] = True     # the apps of bench/ are built from TestingConfig
    assert client.get("/baseline").status_code == 200


def test_favicon(client):
    resp = client.get("/favicon.ico")
    assert resp.status_code == 200 and resp.mimetype == "image/vnd.microsoft.icon"
    assert resp.data[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    assert "max-age" in resp.headers["Cache-Control"]



def test_benchmark_is_off_unless_set():
    from config import Config, ProductionConfig

    assert Config.BENCHMARK is False or __import__("os").environ.get("BENCHMARK")
    assert not ProductionConfig.TESTING
