"""In a real browser, with a real worker process: an export too large for a request
starts as a job, its progress bar moves, and the file downloads when it is done."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest
from openpyxl import load_workbook
from werkzeug.serving import make_server

from formulary.extensions import db
from tests.conftest import PASSWORD, make_app
from tests.jobs.conftest import job_config
from tests.jobs.helpers import add_audit_rows
from tests.jobs.test_worker_killed import start_worker

pytestmark = pytest.mark.browser


@pytest.mark.timeout(180)
def test_an_export_job_shows_a_moving_progress_bar_and_downloads(browser, tmp_path):
    config = job_config("sqlite", tmp_path)
    url = f"sqlite:///{tmp_path / 'live.db'}"
    app = make_app(url, EXPORT_INLINE_MAX_ROWS=100, **config)
    app.config["PROPAGATE_UNEXPECTED"] = False
    with app.app_context():
        db.create_all()
        from formulary.auth import services

        services.create_user(db.session, "test", username="boss", password=PASSWORD, role="admin")
        db.session.commit()
        add_audit_rows(20_000)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    worker = start_worker(url, config, tmp_path, "worker")
    context = browser.new_context(base_url=f"http://127.0.0.1:{server.server_port}",
                                  accept_downloads=True)
    try:
        pg = context.new_page()
        pg.set_default_timeout(20_000)
        pg.goto("/login")
        pg.fill("input[name=username]", "boss")
        pg.fill("input[name=password]", PASSWORD)
        pg.click("button[type=submit]")
        pg.wait_for_url("**/dashboard")
        pg.goto("/reports/")
        pg.click("[data-testid=audit-export]")
        pg.wait_for_url("**/reports/?job=*")
        bar = pg.locator("[data-testid=jobs] [role=progressbar]").first
        seen: list[int] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            value = int(bar.get_attribute("aria-valuenow"))
            if not seen or seen[-1] != value:
                seen.append(value)
            if value == 100:
                break
            time.sleep(0.2)
        assert seen[-1] == 100, seen
        assert any(0 < v < 100 for v in seen), f"the bar never showed a step between: {seen}"
        assert seen == sorted(seen), seen  # it only goes forward
        link = pg.locator("[data-testid^=download-]").first
        link.wait_for(state="visible")
        with pg.expect_download() as info:
            link.click()
        download = info.value
        assert download.suggested_filename == "audit-log.xlsx"
        with open(download.path(), "rb") as f:
            wb = load_workbook(f, read_only=True)
            assert sum(1 for _ in wb["Audit log"].iter_rows()) >= 20_001
            wb.close()
    finally:
        context.close()
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
        server.shutdown()
        thread.join(5)
        with app.app_context():
            db.engine.dispose()
