"""The reply box in a real browser: formatting from the toolbar and the
keyboard, a pasted and a dropped image, a CC, and what the thread shows."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageWatch, log_in
from tickets.models import Message, Ticket

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = base64.b64encode(
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
).decode()

# Builds a File from base64 in the page and fires a paste or a drop carrying it.
SEND_IMAGE = """([kind, name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, {type: "image/png"}));
  const area = document.querySelector("textarea[data-editor='reply']");
  const event = kind === "paste"
    ? new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true})
    : new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true});
  area.dispatchEvent(event);
}"""


def test_agent_formats_pastes_an_image_adds_a_cc_and_sends(
    page: Page, server: str, watch: PageWatch, agent: Any, ticket: Ticket, settings: Any
) -> None:
    settings.HELPDESK_SUPPORT_ADDRESS = "support@example.com"
    log_in(page, server, agent.email)
    page.goto(f"{server}{ticket.get_absolute_url()}")
    area = page.locator("#id_body")
    expect(page.locator(".reply-toolbar")).to_be_visible()

    area.click()
    page.keyboard.type("Olá ")
    page.keyboard.press("Control+b")
    page.keyboard.type("Carla")
    page.keyboard.press("End")
    page.keyboard.type(", siga:\n")
    page.locator(".reply-toolbar [data-command='numbers']").click()
    page.keyboard.type("desligue")
    page.keyboard.press("Enter")  # continues the list: "2. "
    page.keyboard.type("ligue")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # an empty item ends the list
    page.keyboard.type("Veja o ")
    page.keyboard.press("Control+k")
    page.keyboard.type("manual")
    assert area.input_value().endswith("Veja o [manual](https://)")
    area.press("End")
    area.press("ArrowLeft")  # inside "(https://)": type the rest of the address
    page.keyboard.type("example.com/manual")
    area.press("End")
    page.keyboard.type("\n")
    page.evaluate(SEND_IMAGE, ["paste", "image.png", PNG])
    page.evaluate(SEND_IMAGE, ["drop", "foto.png", PNG])
    value = area.input_value()
    assert value.startswith("Olá **Carla**, siga:\n1. desligue\n2. ligue\nVeja o [manual]")
    assert "(https://example.com/manual)" in value
    assert "![paste-" in value and "![foto.png](foto.png)" in value
    expect(page.locator(".reply-images img")).to_have_count(2)

    page.locator(".reply-copies summary").click()
    page.fill("#id_cc", "chefe@cliente.com.br")
    page.locator("#reply-send").click()
    page.wait_for_load_state("networkidle")

    reply = ticket.messages.get(kind=Message.Kind.REPLY, author=agent)
    assert reply.formatted and "<strong>Carla</strong>" in reply.body_html
    assert "<ol><li>desligue</li><li>ligue</li></ol>" in reply.body_html
    assert reply.cc == "chefe@cliente.com.br"
    images = list(reply.attachments.filter(is_inline=True))
    assert len(images) == 2 and all(a.content_id for a in images)
    assert ticket.ccs.filter(email="chefe@cliente.com.br").exists()

    shown = page.locator(f"#message-{reply.pk} .message-formatted")
    expect(shown.locator("strong")).to_have_text("Carla")
    expect(shown.locator("ol li")).to_have_count(2)
    expect(shown.locator("a[href='https://example.com/manual']")).to_have_text("manual")
    expect(shown.locator("img")).to_have_count(2)
    # The images load (our own download URLs, allowed by the CSP).
    loaded = page.evaluate(
        "(id) => Array.from(document.querySelectorAll(`#message-${id} .message-formatted img`))"
        ".every(img => img.complete && img.naturalWidth > 0)",
        reply.pk,
    )
    assert loaded
    expect(page.locator(f"#message-{reply.pk} .message-recipients")).to_contain_text(
        "chefe@cliente.com.br"
    )
    assert not watch.csp_violations and not watch.dialogs and not watch.errors
    assert not watch.foreign_requests
