"""What an agent sees of a customer's mail in a real browser (issue 13 §5):
the pasted screenshot rendered in the thread, remote images fetched only
after "Show images", an image file opening in the viewer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from mailgateway.ingest import ingest_raw_email
from tests.browser.conftest import PageWatch, log_in
from tests.mail_images import pasted_screenshot_mail, png
from tickets.models import Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class ImageHost:
    """A stand-in for a sender's image server on 127.0.0.1: counts requests."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.paths.append(self.path)
                body = png(4, 2, (10, 120, 10))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    thread = threading.Thread(target=host.server.serve_forever, daemon=True)
    thread.start()
    yield host
    host.server.shutdown()
    host.server.server_close()


def test_agent_sees_the_pasted_screenshot_and_remote_images_only_on_request(
    page: Page, server: str, watch: PageWatch, agent: Any, customer: Any, image_host: ImageHost
) -> None:
    raw = pasted_screenshot_mail(
        sender=customer.email,
        remote_url=f"{image_host.url}/pixel.png",
        attachments=(("foto-da-tela.png", "image/png", png(30, 20)),),
    )
    result = ingest_raw_email(raw, door="pipe", envelope_rcpts=["support@example.com"])
    ticket = Ticket.objects.get(reference=result.reference)
    message = ticket.messages.get()

    log_in(page, server, agent.email)
    page.goto(f"{server}/tickets/{ticket.reference}/")
    page.wait_for_load_state("networkidle")
    frame = page.frame_locator(f"#message-{message.pk}-frame")

    # The screenshot pasted into the mail, decoded by the browser, in its place.
    screenshot = frame.locator("img[alt='screenshot']")
    expect(screenshot).to_have_js_property("naturalWidth", 40)
    expect(screenshot).to_have_js_property("naturalHeight", 30)
    # The remote image (a tracking pixel, for all we know) was not fetched.
    expect(frame.locator("img[alt='remote logo']")).to_have_js_property("naturalWidth", 0)
    assert image_host.paths == []

    page.locator(f"[aria-controls='message-{message.pk}-frame'][data-show-images]").click()
    remote = frame.locator("img[alt='remote logo']")
    expect(remote).to_have_js_property("naturalWidth", 4)
    assert image_host.paths == ["/pixel.png"]
    # The screenshot is still there in the re-loaded frame.
    expect(frame.locator("img[alt='screenshot']")).to_have_js_property("naturalWidth", 40)

    # The image file is a thumbnail; the keyboard opens it in the viewer.
    thumb = page.locator("a[data-viewer]")
    expect(thumb).to_have_count(1)
    expect(thumb.locator("img")).to_have_js_property("naturalWidth", 30)
    thumb.focus()
    page.keyboard.press("Enter")
    viewer = page.locator("#image-viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".image-viewer-img")).to_have_js_property("naturalWidth", 30)
    expect(viewer.locator(".image-viewer-title")).to_have_text("foto-da-tela.png")
    expect(viewer).to_be_focused()  # the focus moved into the dialog
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(thumb).to_be_focused()

    assert watch.csp_violations == []
    assert watch.dialogs == []
    assert [u for u in watch.foreign_requests if not u.startswith(image_host.url)] == []
