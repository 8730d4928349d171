"""Every page, admin page and mail speaks pt-BR: no catalogue msgid is left in English.

A realistic world (a ticket with replies, notes, status and priority
changes, an assignment, files, a mail from a stranger naming the ticket, a
quarantined mail, notifications) is rendered in pt-BR: every GET page of
helpdesk.urls for a customer, an agent, a manager and an admin, the Django
admin's lists and forms of every registered model, and every mail template.
The visible text (and the title, placeholder, aria-label and alt
attributes) must contain no English msgid of our catalogue whose pt-BR
translation differs, no raw status code and no capitalised or English month.
User data in the world is Portuguese, so any English found is the UI's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import translation

from helpdesk.models import Notification
from mailgateway.ingest import ingest_raw_email
from mailgateway.models import InboundMessage
from tests.helpdesk.conftest import client_for
from tests.helpdesk.test_authorization_matrix import EXPECTED
from tests.mailgateway.conftest import make_mail
from tickets import services
from tickets.models import Ticket
from tickets.services import NewAttachment
from tickets.states import Status

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "locale" / "pt_BR" / "LC_MESSAGES" / "django.po"

# msgids that may stand in pt-BR text as they are: names, protocol words and
# words Portuguese borrowed.
SAME_IN_BOTH = {"DMARC", "Email", "E-mail", "Slack", "Webhook", "Webhooks", "Login", "Status"}
# The language menu names each language in its own tongue.
SAME_IN_BOTH |= {"English", "Tickets", "tickets"}
# Months as pt-BR does not write them (capitalised) and English ones.
BAD_MONTHS = re.compile(
    r"\b(Janeiro|Fevereiro|Março|Abril|Maio|Junho|Julho|Agosto|Setembro|Outubro|Novembro"
    r"|Dezembro|January|February|March|April|June|July|August|September|October|November"
    r"|December)\b"
)
RAW_CODES = re.compile(r"\b(in_progress|waiting_customer|round_robin|least_open)\b")


# The catalogue, read without polib (not a dependency).


def _po_entries(text: str) -> Iterator[dict[str, str]]:
    entry: dict[str, str] = {}
    key = ""
    for line in [*text.splitlines(), ""]:
        line = line.strip()
        if not line:
            if entry:
                yield entry
            entry, key = {}, ""
        elif line.startswith("#,"):
            entry["flags"] = line
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            entry[key] += ast.literal_eval(line)
        else:
            key, _, value = line.partition(" ")
            entry[key] = ast.literal_eval(value)


def catalogue() -> list[tuple[str, str]]:
    """(msgid, msgstr) of every translated entry (both forms of a plural)."""
    pairs = []
    for e in _po_entries(PO.read_text(encoding="utf-8")):
        if not e.get("msgid"):
            continue
        if "msgid_plural" in e:
            pairs += [
                (e["msgid"], e.get("msgstr[0]", "")),
                (e["msgid_plural"], e.get("msgstr[1]", "")),
            ]
        else:
            pairs.append((e["msgid"], e.get("msgstr", "")))
    return [(i, s) for i, s in pairs if s and s != i]


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


def _checkable(msgid: str, translations: str) -> bool:
    """Long enough to be English for sure, and not part of any translation."""
    literal = PLACEHOLDER.sub(" ", msgid)
    words = re.findall(r"[A-Za-z]+", literal)
    if not words or msgid in SAME_IN_BOTH or "<" in msgid:
        return False
    if len(words) == 1 and len(words[0]) < 5:
        return False
    return not re.search(rf"(?<!\w){re.escape(literal.strip())}(?!\w)", translations)


def _pattern(msgid: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in PLACEHOLDER.split(msgid)]
    body = r".{1,120}?".join(parts)
    body = re.sub(r"(\\ |\\\n|\s)+", r"\\s+", body)
    start = r"(?<![\w])" if msgid[:1].isalnum() else ""
    end = r"(?![\w])" if msgid[-1:].isalnum() else ""
    return re.compile(start + body + end)


@pytest.fixture(scope="module")
def english() -> list[tuple[str, re.Pattern[str]]]:
    pairs = catalogue()
    translations = "\n".join(s for _i, s in pairs)
    return [(i, _pattern(i)) for i, _s in pairs if _checkable(i, translations)]


# What a person reads on a page.


class _Text(HTMLParser):
    ATTRS = {"title", "placeholder", "aria-label", "alt"}

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <pre> holds data (a stored verdict, an outbox payload, a traceback).
        if tag in {"script", "style", "template", "pre"}:
            self.skip += 1
        for name, value in attrs:
            if value and (name in self.ATTRS or (name == "value" and ("type", "submit") in attrs)):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "template", "pre"} and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "\n".join(parser.parts)


def _path(found: re.Match[str]) -> str:
    return " " if re.search(r"[A-Za-z]", found.group()) else found.group()


def leaks(text: str, english: list[tuple[str, re.Pattern[str]]]) -> list[str]:
    text = re.sub(r"\S*/\S*", _path, text)  # paths and links are data, dates are not
    found = [msgid for msgid, pattern in english if pattern.search(text)]
    found += [f"raw code {m}" for m in RAW_CODES.findall(text)]
    found += [f"month {m}" for m in BAD_MONTHS.findall(text)]
    if re.search(r"\d{1,2} de \w+ de \d{4}", text) and re.search(r"\d\d/\d\d/\d{4}", text):
        found.append("two date styles")
    return found


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{where}: {', '.join(sorted(set(f)))}" for where, f in found.items() if f)


# The world.


@pytest.fixture
def world(
    customer: Any, agent: Any, manager: Any, admin_user: Any, category: Any, settings: Any
) -> dict[str, Any]:
    ticket = services.ticket_create(
        requester=customer,
        subject="Impressora não imprime",
        body="Desde ontem a impressora do financeiro não funciona.",
        category=category,
        message_id="<pedido@cliente.com.br>",
    )
    services.ticket_reply_add(
        ticket=ticket,
        author=agent,
        body="Olá Carla, reinicie a impressora e nos diga se voltou.",
        attachments=[
            NewAttachment(name="manual.pdf", content_type="application/pdf", content=b"%PDF-1.4 x")
        ],
    )
    services.ticket_reply_add(
        ticket=ticket,
        author=agent,
        body="Nota: o toner foi trocado semana passada.",
        internal=True,
        attachments=[NewAttachment(name="nota.txt", content_type="text/plain", content=b"interno")],
    )
    services.ticket_transition(ticket=ticket, to=Status.IN_PROGRESS, actor=agent)
    services.ticket_priority_set(ticket=ticket, priority="high", actor=agent)
    services.ticket_assign(ticket=ticket, assignee=agent, actor=manager)
    services.ticket_reply_add(ticket=ticket, author=customer, body="Reiniciei e nada mudou.")
    ticket.refresh_from_db()
    # A stranger names the ticket: a new ticket, linked, with a rejected candidate.
    stranger = ingest_raw_email(
        make_mail(
            sender="Mário Estranho <mario@estranho.com.br>",
            subject=f"Re: [{ticket.reference}] Impressora",
            body="Também estou sem impressora.",
        ),
        door="pipe",
    )
    linked = Ticket.objects.get(reference=stranger.reference)
    # The customer answers by mail: a mail entry with its verdict.
    ingest_raw_email(
        make_mail(subject=f"Re: [{ticket.reference}] Impressora", body="Segue a foto."),
        door="pipe",
    )
    # A quarantined mail.
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = ["outro.example"]
    quarantined = ingest_raw_email(make_mail(subject="Quarentena"), door="pipe")
    settings.HELPDESK_ALLOWED_SENDER_DOMAINS = []
    for kind in Notification.Kind.values:
        Notification.objects.create(recipient=customer, ticket=ticket, kind=kind, actor=agent)
        Notification.objects.create(recipient=agent, ticket=ticket, kind=kind, actor=customer)
    return {
        "ticket": ticket,
        "linked": linked,
        "quarantined": InboundMessage.objects.get(pk=quarantined.inbound_id),
        "users": {"owner": customer, "agent": agent, "manager": manager, "admin": admin_user},
    }


def _get(client: Client, url: str) -> str:
    with translation.override("pt-br"):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="pt-br")
    if "html" not in response.get("Content-Type", ""):
        return ""
    return visible_text(response.content.decode())


def _page_urls(world: dict[str, Any], actor: str) -> list[str]:
    ticket = world["ticket"]
    kwargs = {
        "": {},
        "bad_token": {"token": "not-a-token"},
        "reset": {"uidb64": "MQ", "token": "set-password"},
        "ticket": {"reference": ticket.reference},
        "attachment": {"pk": ticket.attachments.first().pk},
    }
    role = "manager" if actor == "admin" else actor
    urls = [
        reverse(name, kwargs=kwargs[key])
        for name, (method, key, _data, expected) in EXPECTED.items()
        if method == "GET" and key in kwargs and expected[role] != 302
    ]
    urls += [f"{reverse('ticket_list')}?status=in_progress", "/does-not-exist/"]
    if actor != "owner":
        urls.append(reverse("ticket_detail", args=[world["linked"].reference]))
    return urls


@pytest.mark.parametrize("actor", ["owner", "agent", "manager", "admin"])
def test_every_page_speaks_portuguese(world: dict[str, Any], english: Any, actor: str) -> None:
    client = client_for(world["users"][actor])
    found = {url: leaks(_get(client, url), english) for url in _page_urls(world, actor)}
    problems = report(found)
    assert not problems, problems


def _admin_urls(world: dict[str, Any]) -> list[str]:
    request = RequestFactory().get("/admin/")
    request.user = world["users"]["admin"]
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{name}_changelist"))
        urls.append(reverse("admin:app_list", args=[model._meta.app_label]))
        obj = model._default_manager.order_by("pk").first()
        if obj is not None:
            urls.append(reverse(f"{name}_change", args=[obj.pk]))
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"{name}_add"))
    urls.append(reverse("admin:mailgateway_inboundmessage_change", args=[world["quarantined"].pk]))
    return list(dict.fromkeys(urls))


def test_the_admin_speaks_portuguese(world: dict[str, Any], english: Any) -> None:
    client = client_for(world["users"]["admin"])
    found = {url: leaks(_get(client, url), english) for url in _admin_urls(world)}
    problems = report(found)
    assert not problems, problems


def test_every_model_and_app_has_a_portuguese_name() -> None:
    from django.apps import apps

    untranslated = []
    for model in admin.site._registry:
        app = apps.get_app_config(model._meta.app_label)
        for label in (model._meta.verbose_name_plural, app.verbose_name):
            with translation.override("en"):
                en = str(label)
            with translation.override("pt-br"):
                pt = str(label)
            if pt == en and en not in SAME_IN_BOTH:
                untranslated.append(en)
    assert sorted(set(untranslated)) == []


def test_admin_messages_agree_with_the_gender_of_the_model(world: dict[str, Any]) -> None:
    client = client_for(world["users"]["admin"])
    with translation.override("pt-br"):
        team = client.post(
            reverse("admin:tickets_team_add"),
            {"name": "Financeiro", "assignment": "manual"},
            follow=True,
        )
        category = client.post(
            reverse("admin:tickets_category_add"),
            {"name": "Faturas", "is_active": "on"},
            follow=True,
        )
    text = visible_text(team.content.decode()) + visible_text(category.content.decode())
    assert "Financeiro" in text and "Faturas" in text
    assert not re.search(r"\b[Oo] (equipe|categoria)\b", text), text
    assert not re.search(r"(equipe|categoria) “[^”]*” foi adicionado\b", text), text


def test_python_built_messages_speak_portuguese(world: dict[str, Any], english: Any) -> None:
    from django.core.exceptions import ValidationError

    from helpdesk.uploads import check_file
    from outbound import webhooks
    from outbound.admin import WebhookEndpointForm

    texts: list[str] = []
    with translation.override("pt-br"):
        for url in ("ftp://exemplo.com.br/x", "http://127.0.0.1/gancho"):
            form = WebhookEndpointForm(data={"name": "x", "url": url, "format": "json"})
            assert not form.is_valid()
            texts += [str(e) for e in form.errors["url"]]
        big = SimpleUploadedFile("foto.jpg", b"")
        big.size = 21_000_000
        with pytest.raises(ValidationError) as error:
            check_file(big)
        too_large = str(error.value.messages[0])
        data = webhooks.ticket_payload(world["ticket"], "ticket.created")
        data.update(event=webhooks.TEST_EVENT, subject=webhooks.sample_subject())
        slack = webhooks.slack_text(data)
    assert leaks("\n".join([*texts, too_large, slack]), english) == []
    for english_phrase in ("only http", "non-public", "resolves to"):
        assert english_phrase not in " ".join(texts)
    assert "*Evento de teste*" in slack and "Evento de teste da central" in slack
    # 21,000,000 bytes against the 20 MiB limit: the two sizes must differ.
    size, limit = re.findall(r"(\d[\d.,]* (?:bytes|MB))", too_large)
    assert (size, limit) == ("20,03 MB", "20,00 MB"), too_large


def test_threading_verdicts_are_shown_in_portuguese(world: dict[str, Any]) -> None:
    client = client_for(world["users"]["agent"])
    text = _get(client, reverse("ticket_detail", args=[world["linked"].reference]))
    assert "sender is not a participant" not in text
    assert "o remetente não participa do ticket" in text


# Mails.


def _mail_names() -> list[str]:
    return sorted(
        p.name.removesuffix("-subject.txt")
        for p in (ROOT / "templates" / "emails").glob("*-subject.txt")
    )


def test_every_mail_speaks_portuguese(world: dict[str, Any], english: Any) -> None:
    from helpdesk import report_mail
    from helpdesk.account_mail import KINDS, build
    from outbound.mails import build_email

    ticket, customer, agent = world["ticket"], world["users"]["owner"], world["users"]["agent"]
    reply = ticket.messages.filter(author=agent, kind="reply").first()
    found = {}
    manager = world["users"]["manager"]
    for name in _mail_names():
        # The report summary goes to managers only: built for one, twice.
        readers = (manager, manager) if name == report_mail.KIND else (customer, agent)
        for user in readers:
            if name == report_mail.KIND:
                period = report_mail.period_ending_yesterday("weekly")
                mail = report_mail.build(
                    {
                        "user_id": user.pk,
                        "period": period.name,
                        "first_day": period.first_day.isoformat(),
                        "last_day": period.last_day.isoformat(),
                    }
                )
            elif name in KINDS:
                mail = build({"account": name, "user_id": user.pk, "subject": "Impressora"})
            else:
                mail = build_email(
                    {
                        "template": name,
                        "to": user.email,
                        "to_name": user.full_name,
                        "user_id": user.pk,
                        "is_staff": user.is_staff,
                        "ticket_id": ticket.pk,
                        "message_pk": reply.pk,
                        "actor_id": agent.pk,
                        "old": "open",
                        "new": "in_progress",
                        "from_name": "Ana Agente via Central de atendimento",
                        "from_email": "support@example.com",
                    }
                )
            parts = [str(mail.subject), str(mail.body)]
            parts += [visible_text(str(c)) for c, _t in getattr(mail, "alternatives", [])]
            text = "\n".join(parts)
            problems = leaks(text, english)
            if re.search(r"\bHelpdesk\b", text):
                problems.append("brand Helpdesk")
            if problems:
                found[f"{name} to {user.role}"] = problems
    assert not report(found), report(found)
