"""The schema and the docs page: OpenAPI 3 with every route, and Swagger UI
from our own static files under the project's strict CSP."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.staticfiles import finders
from django.test import Client

from helpdesk.api import urls as api_urls


def test_the_schema_is_openapi_3_and_lists_every_route(db: Any) -> None:
    response = Client().get("/api/schema/", headers={"accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = set(schema["paths"])
    assert len(paths) == len(api_urls.urlpatterns)
    assert "/api/v1/tickets/{reference}/" in paths
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_the_docs_load_only_our_static_files_and_no_inline_script(db: Any) -> None:
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts and all("src=" in attrs for attrs in scripts)
    assert "<style" not in html and "https://" not in html
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        if url.startswith("/static/"):
            path = url.removeprefix("/static/").split("?")[0]
            assert finders.find(path), url
        else:
            # The start-up script: this page's own URL with ?script.
            assert url.startswith("/api/docs/"), url
            script = client.get(url)
            assert script.status_code == 200
            assert script["Content-Type"].startswith("application/javascript")
            assert "/api/schema/" in script.content.decode()
