"""Mails with images, as clients send them, for the thread's display tests
(unit and browser): real PNGs made here, real MIME built by the stdlib."""

from __future__ import annotations

import struct
import zlib
from email.message import EmailMessage
from email.utils import make_msgid


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG of one colour (browsers decode it: naturalWidth > 0)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def pasted_screenshot_mail(
    *,
    sender: str,
    subject: str = "The error screen",
    remote_url: str = "",
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    cid: str = "",
) -> bytes:
    """An HTML mail with a screenshot pasted into its text (a related part
    named by cid:), optionally a remote image and attached files
    (name, type, bytes): the shape Outlook, Gmail and Thunderbird send."""
    cid = cid or make_msgid(domain="client.example")[1:-1]
    remote = f'<p>Logo: <img src="{remote_url}" alt="remote logo"></p>' if remote_url else ""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="client.example")
    msg.set_content("The screen shows an error.\n")
    msg.add_alternative(
        f'<html><body><p>The screen shows:</p><p><img src="cid:{cid}" alt="screenshot"></p>'
        f"{remote}<p>What now?</p></body></html>",
        subtype="html",
    )
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    html_part.add_related(png(40, 30), "image", "png", cid=f"<{cid}>", filename="image001.png")
    for name, content_type, data in attachments:
        maintype, subtype = content_type.split("/", 1)
        if maintype == "message":
            from email import message_from_bytes, policy

            msg.add_attachment(message_from_bytes(data, policy=policy.default), filename=name)
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()
