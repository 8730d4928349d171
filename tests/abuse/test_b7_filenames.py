"""B7 (issue 16): hostile file names through every door that takes files.

One set of names (traversal with / and \\, absolute paths, NUL, RFC 2231-
and RFC 2047-encoded traversal, 10,000 characters, an RLO override, CON, CR/LF,
quotes, markup) arrives by mail through `manage.py ingest_email` (the MTA's
pipe) and `manage.py smtpd`, and by the web's new-ticket and reply forms; the
API takes no files (JSON only) and is checked to refuse one.

Checked: every file stored under a server-made name inside the storage root
with its bytes; a display name with no path, control or bidi character; the
file tree around the storage root (sentinels where a traversal would land)
byte-identical before and after; the name only escaped in the pages that
list it, and in the download's one Content-Disposition only as an ASCII
fallback plus the exact name RFC 6266-encoded (filename*).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from django.test import Client
from django.utils.html import escape

from tests.abuse import bombs
from tests.faults.conftest import child_env  # noqa: F401 (fixture)
from tests.mailgateway.conftest import _raw_dir  # noqa: F401 (autouse fixture)
from tickets.models import Attachment, Ticket

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ABSOLUTE = "{tree}/l1/absolute-target"  # an absolute path onto a sentinel


def params(tree: Path, long: int = 10_000) -> list[str]:
    """The Content-Disposition parameters naming each file, as a hostile
    mailer or HTTP client writes them. (Django refuses a form part whose
    headers pass 1 KB with a 400, so the web gets an 800-character name.)"""
    return [
        'filename="../../x"',
        'filename="../../../../l1/x"',
        'filename="..\\\\..\\\\x"',
        f'filename="{ABSOLUTE.format(tree=tree)}"',
        'filename="C:\\\\Windows\\\\win.ini"',
        "filename*=UTF-8''..%2F..%2F..%2Fx.sh",
        'filename="=?utf-8?q?..=2F..=2Fencoded-word.txt?="',
        "filename*=UTF-8''nul%00byte.txt",
        'filename="' + "x" * long + '.txt"',
        "filename*=UTF-8''" + RLO,
        'filename="CON"',
        "filename*=UTF-8''cr%0D%0Alf%0D%0ABcc%3A%20x%40y.txt",
        'filename="quote\\"d \'single\'.txt"',
        "filename*=UTF-8''%22%3E%3Csvg%20onload%3Dalert(1)%3E.html",
        "filename*=UTF-8''or%C3%A7amento%20%26%20c%C3%B3pia.pdf",
    ]


def content(i: int) -> bytes:
    return b"file %d of B7\n" % i  # each file's bytes tell which name it came with


def mail_with(tree: Path, tag: str) -> bytes:
    import base64

    parts = [b"--B\r\nContent-Type: text/plain\r\n\r\nsegue\r\n"]
    for i, param in enumerate(params(tree)):
        parts.append(
            b"--B\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
            + param.encode("utf-8")
            + b"\r\n\r\n"
            + base64.b64encode(content(i))
            + b"\r\n"
        )
    rest = b"Content-Type: multipart/mixed; boundary=B\r\n\r\n" + b"".join(parts) + b"--B--\r\n"
    return bombs.mail(tag, rest)


RLO = "invoice%E2%80%AEfdp.exe"


def web_params(tree: Path, *, with_exe: bool = False) -> list[tuple[int, str]]:
    """The names a form post carries: the web refuses the .exe behind the RLO
    (HELPDESK_BLOCKED_EXTENSIONS), so a post without it stores the rest."""
    return [(i, p) for i, p in enumerate(params(tree, long=800)) if with_exe or RLO not in p]


def forwarded(tree: Path) -> bytes:
    """A mail carrying, as an attached mail (message/rfc822), the mail with
    every name: the thread shows its files through /attachments/<id>/parts/."""
    return bombs.mail(
        "b7-forwarded",
        b"Content-Type: multipart/mixed; boundary=O\r\n\r\n--O\r\nContent-Type: text/plain\r\n\r\n"
        b"encaminhado\r\n--O\r\nContent-Type: message/rfc822\r\n"
        b'Content-Disposition: attachment; filename="encaminhada.eml"\r\n\r\n'
        + mail_with(tree, "b7-inner")
        + b"\r\n--O--\r\n",
    )


def multipart(fields: dict[str, str], files: list[tuple[int, str]]) -> tuple[bytes, str]:
    """A form post built by hand: Django's test client would take the base
    name of each file name before sending it, as a browser does."""
    out = b""
    for name, value in fields.items():
        out += b'--F\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
            name.encode(),
            value.encode(),
        )
    for i, param in files:
        out += (
            b'--F\r\nContent-Disposition: form-data; name="attachments"; '
            + param.encode("utf-8")
            + b"\r\nContent-Type: application/octet-stream\r\n\r\n"
            + content(i)
            + b"\r\n"
        )
    return out + b"--F--\r\n", "multipart/form-data; boundary=F"


@pytest.fixture
def tree(tmp_path: Path, child_env: dict[str, str], settings: Any) -> dict[str, Any]:  # noqa: F811
    """The storage root three levels down a tree of sentinels (where ../..
    and the absolute name would land), the children's data there too."""
    root = tmp_path / "tree"
    data = root / "l1" / "l2" / "data"
    data.mkdir(parents=True)
    for where in ("x", "l1/x", "l1/l2/x", "l1/l2/data/x", "l1/absolute-target", "CON"):
        (root / where).write_bytes(b"sentinel " + where.encode())
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_bytes(b"root:x:0:0")
    media = data / "media"
    settings.MEDIA_ROOT = media
    settings.HELPDESK_MAX_ATTACHMENTS = 50  # the web's per-post cap: all the names at once
    env = {**child_env, "HELPDESK_DATA_DIR": str(data)}
    # What the app itself makes beside the storage root (its file cache, an
    # empty STATIC_ROOT at start).
    skip = (media, data / "cache", data / "staticfiles")
    return {"root": root, "media": media, "env": env, "skip": skip}


def data_of(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as handle:
        return bytes(handle.read())


def check_stored(attachments: list[Attachment], media: Path, sent: list[int]) -> None:
    by_content = {data_of(a): a for a in attachments}
    assert set(by_content) == {content(i) for i in sent}, "a file is missing"
    for attachment in attachments:
        assert re.fullmatch(r"attachments/\d{4}/\d{2}/[0-9a-f]{32}", attachment.file.name)
        assert Path(attachment.file.path).resolve().is_relative_to(media.resolve())
        check_name(attachment.original_name)


def check_name(name: str) -> None:
    """A display name: no path, no control or format (bidi) character, at
    most 255 characters, and the type it had (the extension) kept."""
    assert 0 < len(name) <= 255, name
    assert "/" not in name and "\\" not in name, name
    assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in name), repr(name)
    if name.startswith("xxxxx"):
        assert name.endswith(".txt"), "the long name lost its extension"


def check_served(client: Client, attachment: Attachment) -> None:
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert response.getvalue() == data_of(attachment)
    assert download_name(response) == attachment.original_name


def download_name(response: Any) -> str:
    """The one Content-Disposition's name: an ASCII fallback and filename*."""
    dispositions = [v for k, v in response.items() if k.lower() == "content-disposition"]
    assert len(dispositions) == 1, dispositions
    value = dispositions[0]
    assert value.isascii() and "\r" not in value and "\n" not in value
    found = re.fullmatch(
        r"attachment; filename=\"([ !#-\[\]-~]*)\"; filename\*=UTF-8''(\S+)", value
    )
    assert found, value
    return unquote(found.group(2))


def check_pages(client: Client, ticket: Ticket, attachments: list[Attachment]) -> int:
    """The ticket page and its thread fragment: each name escaped, never raw
    when escaping changes it. Returns how many names needed escaping."""
    pages = [
        client.get(f"/tickets/{ticket.reference}/").content.decode(),
        client.get(f"/tickets/{ticket.reference}/thread/").content.decode(),
    ]
    escaped = 0
    for attachment in attachments:
        name = attachment.original_name
        if escape(name) != name:
            escaped += 1
            assert all(name not in page for page in pages), name
        assert any(escape(name) in page for page in pages), name
    return escaped


def check_attached_mail(client: Client, root: Path) -> dict[str, int]:
    """The files of the attached mail: its page lists each name escaped, and
    each downloads with its bytes under a clean name."""
    attachment = Attachment.objects.get(
        ticket__subject="b7-forwarded", original_name="encaminhada.eml"
    )
    page = client.get(f"/attachments/{attachment.pk}/message/").content.decode()
    escaped = 0
    for i in range(len(params(root))):
        response = client.get(f"/attachments/{attachment.pk}/parts/{i}/")
        assert response.status_code == 200 and response.content == content(i)
        name = download_name(response)
        check_name(name)
        escaped += escape(name) != name
        assert escape(name) in page and (escape(name) == name or name not in page), name
    return {"files": len(params(root)), "names_escaped": escaped}


def test_hostile_file_names_by_pipe_smtp_and_the_web_never_leave_the_storage_root(
    tree: dict[str, Any],
    _raw_dir: Path,  # noqa: F811
    tmp_path: Path,
    customer: Any,
    admin_user: Any,
    category: Any,
    figures: Any,
) -> None:
    root, media, env = tree["root"], tree["media"], tree["env"]
    before = bombs.tree_digest(root, skip=tree["skip"])
    runs = tmp_path / "runs"
    runs.mkdir()

    piped = mail_with(root, "b7-pipe")
    run = bombs.pipe(env, piped, runs)
    assert run.code == 0, run.err
    with bombs.listener(env, runs) as server:
        replies = [server.send(mail_with(root, "b7-smtp")), server.send(forwarded(root))]
        assert [run.code for run in replies] == [250, 250], [run.replies for run in replies]
        bombs.wait_processed(3)

    web = Client()
    web.force_login(customer)
    fields = {
        "category": str(category.pk),
        "priority": "high",
        "subject": "B7 pelo formulário",
        "description": "Segue em anexo os arquivos.",
    }
    body, ctype = multipart(fields, web_params(root, with_exe=True))
    refused = web.generic("POST", "/tickets/new/", body, content_type=ctype)
    assert refused.status_code == 400 and not Ticket.objects.filter(subject=fields["subject"])
    body, ctype = multipart(fields, web_params(root))
    created = web.generic("POST", "/tickets/new/", body, content_type=ctype)
    assert created.status_code == 302, created.content.decode()[-2000:]
    web_ticket = Ticket.objects.get(subject="B7 pelo formulário")
    body, ctype = multipart({"body": "mais arquivos na resposta"}, web_params(root))
    replied = web.generic(
        "POST", f"/tickets/{web_ticket.reference}/reply/", body, content_type=ctype
    )
    assert replied.status_code == 302, replied.content.decode()[-2000:]

    # The API takes JSON only: a file posted to it is refused, nothing stored.
    api = web.generic(
        "POST", f"/api/v1/tickets/{web_ticket.reference}/messages/", body, content_type=ctype
    )
    assert api.status_code == 415, api.content

    staff = Client()
    staff.force_login(admin_user)
    doors = {
        "pipe": Ticket.objects.get(subject="b7-pipe"),
        "smtp": Ticket.objects.get(subject="b7-smtp"),
        "web-new": web_ticket,
    }
    counts: dict[str, Any] = {}
    for door, ticket in doors.items():
        messages = list(ticket.messages.order_by("created_at"))
        for message in messages:
            attachments = list(message.attachments.all())
            label = door if message == messages[0] else "web-reply"
            sent = (
                [i for i, _ in web_params(root)]
                if door == "web-new"
                else list(range(len(params(root))))
            )
            check_stored(attachments, media, sent)
            for attachment in attachments:
                check_served(web, attachment)
            escaped = check_pages(staff, ticket, attachments)
            check_pages(web, ticket, attachments)
            counts[label] = {"files": len(attachments), "names_escaped": escaped}
    counts["attached-mail"] = check_attached_mail(web, root)
    # Every name listed in the API as the exact string stored (JSON, not HTML).
    listed = web.get(f"/api/v1/tickets/{web_ticket.reference}/messages/").json()
    items = listed["results"] if isinstance(listed, dict) else listed
    api_names = sorted(a["filename"] for m in items for a in m["attachments"])
    assert api_names == sorted(
        Attachment.objects.filter(ticket=web_ticket).values_list("original_name", flat=True)
    )

    for attachment in Attachment.objects.all():  # the forwarded mail's files too
        check_name(attachment.original_name)
    after = bombs.tree_digest(root, skip=tree["skip"])
    changed = sorted(set(before.items()) ^ set(after.items()))
    stored = Attachment.objects.count()
    figures({"names": len(params(root)), "doors": counts, "files_stored": stored,
             "outside_changes": len(changed), "outside_files": len(before)})  # fmt: skip
    assert changed == [], changed
    # pipe, SMTP and the forwarded mail (its files, and itself), web twice.
    assert stored == 3 * len(params(root)) + 1 + 2 * len(web_params(root))
