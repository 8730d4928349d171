"""The reports dashboard in a real browser: Chart.js draws every chart from
the page's JSON under the strict CSP, with no console error."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch, log_in
from tests.browser.test_screenshots import PNG, artifact_dir

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS = ["chart-daily", "chart-backlog", "chart-categories", "chart-agents"]


def test_the_dashboard_draws_its_charts_under_the_csp(
    page: Page, server: str, watch: PageWatch, manager: Any
) -> None:
    call_command("seed_demo", "--history", stdout=StringIO())
    log_in(page, server, manager.email)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{server}/")
    page.get_by_role("link", name="Relatórios").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/reports/")
    for chart in CHARTS:
        canvas = page.locator(f"#{chart}")
        expect(canvas).to_have_attribute("data-drawn", "true")
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 100
    # Something was painted: a drawn canvas exports more than a blank one.
    blank = page.evaluate("document.createElement('canvas').toDataURL().length")
    painted = page.evaluate("document.getElementById('chart-daily').toDataURL().length")
    assert painted > blank * 5
    page.select_option("#id_period", "90")
    page.locator(".report-filters button[type='submit']").click()
    page.wait_for_load_state("networkidle")
    assert "period=90" in page.url
    expect(page.locator("#chart-backlog")).to_have_attribute("data-drawn", "true")
    page.wait_for_timeout(400)  # the charts' short entry animation
    shot = page.screenshot(full_page=True)
    assert shot[:8] == PNG
    (artifact_dir("screenshot-reports.png") / "screenshot-reports.png").write_bytes(shot)
    assert watch.csp_violations == []
    assert watch.errors == []
    assert watch.foreign_requests == [] and watch.dialogs == []
