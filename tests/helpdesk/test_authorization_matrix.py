"""A1/A2/A7: every route of helpdesk.urls, every kind of visitor, each method.

The expected table below names every URL pattern. A new route that is not in
the table fails test_it_covers_every_route: add its row (and think about who
may reach it) when you add the route.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from helpdesk.accounts import user_create
from helpdesk.models import Notification, SavedView
from helpdesk.roles import Role
from tests.conftest import PASSWORD
from tests.helpdesk.conftest import add_mail_with_image_and_eml, client_for
from tickets.models import CannedReply, Team

ACTORS = ("anon", "owner", "stranger", "agent", "manager")
LOGIN = 302  # anonymous: redirected to the login page
ANY = "any"  # health may be 200 or 503 depending on probes; access is what matters

# name -> (method, kwargs key, data, {actor: expected status})
EXPECTED: dict[str, tuple[str, str, dict[str, Any], dict[str, Any]]] = {
    "login": (
        "GET",
        "",
        {},
        {"anon": 200, "owner": 302, "stranger": 302, "agent": 302, "manager": 302},
    ),
    "logout": ("POST", "", {}, dict.fromkeys(ACTORS, 302)),
    "signup": (
        "GET",
        "",
        {},
        {"anon": 200, "owner": 302, "stranger": 302, "agent": 302, "manager": 302},
    ),
    "signup_done": ("GET", "", {}, dict.fromkeys(ACTORS, 200)),
    "verify_email_resend": (
        "POST",
        "",
        {},
        {"anon": LOGIN, "owner": 302, "stranger": 302, "agent": 302, "manager": 302},
    ),
    "verify_email": ("GET", "bad_token", {}, dict.fromkeys(ACTORS, 400)),
    "password_reset": ("GET", "", {}, dict.fromkeys(ACTORS, 200)),
    "password_reset_done": ("GET", "", {}, dict.fromkeys(ACTORS, 200)),
    "password_reset_confirm": ("GET", "reset", {}, dict.fromkeys(ACTORS, 200)),
    "password_reset_complete": ("GET", "", {}, dict.fromkeys(ACTORS, 200)),
    "password_change": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 200, "agent": 200, "manager": 200},
    ),
    "password_change_done": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 200, "agent": 200, "manager": 200},
    ),
    "profile": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 200, "agent": 200, "manager": 200},
    ),
    "api_tokens": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 200, "agent": 200, "manager": 200},
    ),
    "healthz": ("GET", "", {}, dict.fromkeys(ACTORS, ANY)),
    "ticket_feedback": ("GET", "bad_token", {}, dict.fromkeys(ACTORS, 404)),
    "home": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 200, "agent": 200, "manager": 200},
    ),
    "ticket_list": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 200, "agent": 200, "manager": 200},
    ),
    "ticket_new": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 200, "agent": 200, "manager": 200},
    ),
    "ticket_bulk": (
        "POST",
        "",
        {"action": "priority", "priority": "high", "tickets": "$ref"},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 302, "manager": 302},
    ),
    "saved_view_create": (
        "POST",
        "",
        {"name": "x"},
        {"anon": LOGIN, "owner": 302, "stranger": 302, "agent": 302, "manager": 302},
    ),
    "saved_view_delete": (
        "POST",
        "view",
        {},
        {"anon": LOGIN, "owner": 302, "stranger": 404, "agent": 404, "manager": 404},
    ),
    "ticket_detail": (
        "GET",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    "ticket_thread": (
        "GET",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    "ticket_live": (
        "GET",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    "ticket_reply": (
        "POST",
        "ticket",
        {"body": "hello"},
        {"anon": LOGIN, "owner": 302, "stranger": 404, "agent": 302, "manager": 302},
    ),
    "ticket_take": (
        "POST",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 302, "manager": 302},
    ),
    # A merge needs a target: without one the agent is sent back with an error.
    "ticket_merge": (
        "POST",
        "ticket",
        {"merge-into": ""},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 302, "manager": 302},
    ),
    "ticket_tags": (
        "POST",
        "ticket",
        {"add": "vip"},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 302, "manager": 302},
    ),
    "ticket_forward": (
        "POST",
        "ticket",
        {"forward-to": "fornecedor@example.org", "forward-body": "Podem ver?"},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 302, "manager": 302},
    ),
    "ticket_transfer": (
        "POST",
        "ticket",
        {"team": "", "reason": "x"},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 400, "manager": 400},
    ),
    "canned_list": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 200, "manager": 200},
    ),
    "canned_delete": (
        "POST",
        "canned",
        {},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 302, "manager": 404},
    ),
    "availability_set": (
        "POST",
        "",
        {"available": "0"},
        {"anon": LOGIN, "owner": 404, "stranger": 404, "agent": 302, "manager": 302},
    ),
    "ticket_properties": (
        "GET",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 200, "manager": 200},
    ),
    # Staff fixes for a mis-threaded mail. The matrix runs the actors in order,
    # so the manager finds the message already split away by the agent: 404.
    "message_move": (
        "POST",
        "message",
        {"to": "$ref"},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 302, "manager": 302},
    ),
    "message_split": (
        "POST",
        "message",
        {},
        {"anon": LOGIN, "owner": 403, "stranger": 403, "agent": 302, "manager": 404},
    ),
    "attachment_download": (
        "GET",
        "attachment",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    # What agents see of a mail (helpdesk.mail_display): its images inline,
    # its HTML with remote images, an attached mail nested, and its files.
    "attachment_inline": (
        "GET",
        "image",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    "message_html": (
        "GET",
        "mail",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    "attachment_message": (
        "GET",
        "eml",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    "attachment_part": (
        "GET",
        "part",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    # web-extras: notifications, presence, drafts, feedback, language, report.
    "notification_list": ("GET", "", {}, {"anon": LOGIN, **dict.fromkeys(ACTORS[1:], 200)}),
    "notification_bell": ("GET", "", {}, {"anon": 204, **dict.fromkeys(ACTORS[1:], 200)}),
    "notifications_read": ("POST", "", {}, {"anon": LOGIN, **dict.fromkeys(ACTORS[1:], 302)}),
    "notification_open": (
        "POST",
        "notification",
        {},
        {"anon": LOGIN, "owner": 302, "stranger": 404, "agent": 404, "manager": 404},
    ),
    "ticket_notifications_seen": (
        "POST",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 200, "stranger": 404, "agent": 200, "manager": 200},
    ),
    "ticket_presence": (
        "POST",
        "ticket",
        {"state": "viewing"},
        {"anon": LOGIN, "owner": 404, "stranger": 404, "agent": 200, "manager": 200},
    ),
    "ticket_presence_leave": (
        "POST",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 404, "stranger": 404, "agent": 204, "manager": 204},
    ),
    "ticket_draft": (
        "GET",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 404, "stranger": 404, "agent": 200, "manager": 200},
    ),
    # Only the requester may act; staff get the page back with an explanation.
    "ticket_confirm": (
        "POST",
        "ticket",
        {},
        {"anon": LOGIN, "owner": 302, "stranger": 404, "agent": 302, "manager": 302},
    ),
    "ticket_reopen": (
        "POST",
        "ticket",
        {"comment": "still broken"},
        {"anon": LOGIN, "owner": 302, "stranger": 404, "agent": 302, "manager": 302},
    ),
    "ticket_rate": (
        "POST",
        "ticket",
        {"score": "5"},
        {"anon": LOGIN, "owner": 302, "stranger": 404, "agent": 302, "manager": 302},
    ),
    # Open to everyone (visitors get a cookie); next= keeps the anon check's
    # "redirects to the login page" true.
    "language_set": (
        "POST",
        "",
        {"language": "en", "next": "/accounts/login/"},
        dict.fromkeys(ACTORS, 302),
    ),
    "satisfaction_report": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 404, "stranger": 404, "agent": 404, "manager": 200},
    ),
    "reports": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 404, "stranger": 404, "agent": 404, "manager": 200},
    ),
    "reports_export": (
        "GET",
        "",
        {},
        {"anon": LOGIN, "owner": 404, "stranger": 404, "agent": 404, "manager": 200},
    ),
    # Admins only (tests/helpdesk/test_system.py has the admin's side).
    "system": ("GET", "", {}, {"anon": LOGIN, **dict.fromkeys(ACTORS[1:], 404)}),
    "system_retry_outbox": ("POST", "", {}, {"anon": LOGIN, **dict.fromkeys(ACTORS[1:], 404)}),
    "system_reprocess_quarantine": (
        "POST",
        "",
        {},
        {"anon": LOGIN, **dict.fromkeys(ACTORS[1:], 404)},
    ),
}
# Two more visitors (the catalogue's agents of two teams, and the admin), their
# columns derived from the others. Agents are confined to their teams' tickets
# here (HELPDESK_AGENTS_SEE_ALL off, see world): an agent of another team gets
# what the team's agent gets, except that the team's ticket and everything on
# it looks missing, as does another agent's canned reply. The admin gets what
# the manager gets, and the System page. The outsider goes before the agent,
# whose actions (take, split, delete) would otherwise answer for it.
ALL_ACTORS = ("anon", "owner", "stranger", "outsider", "agent", "manager", "admin")
OUTSIDER_MISSING = {"ticket", "message", "mail", "image", "eml", "part", "attachment", "canned"}
ADMIN_ONLY = {"system": 200, "system_retry_outbox": 302, "system_reprocess_quarantine": 302}
for _name, (_method, _key, _data, _expected) in EXPECTED.items():
    _expected["outsider"] = 404 if _key in OUTSIDER_MISSING else _expected["agent"]
    _expected["admin"] = ADMIN_ONLY.get(_name, _expected["manager"])
# Documents shown in our own frames: their own CSP (no script at all), framed
# by our pages only (helpdesk/views/mail_frames.py).
FRAMED = {"message_html", "attachment_message"}
# Everything that changes state; each must refuse a POST without a CSRF token.
POST_ROUTES = {name for name, row in EXPECTED.items() if row[0] == "POST"} | {
    "login",
    "signup",
    "password_reset",
    "password_change",
    "profile",
    "api_tokens",
    "ticket_new",
    "ticket_properties",
}


def _patterns(resolver: URLResolver, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            found += _patterns(entry, prefix + str(entry.pattern))
        else:
            found.append((prefix + str(entry.pattern), entry))
    return found


def helpdesk_route_names() -> set[str]:
    import helpdesk.urls

    names = set()
    for _route, pattern in _patterns(URLResolver(r"^/", helpdesk.urls.urlpatterns)):  # type: ignore[arg-type]
        assert pattern.name, f"unnamed route {pattern.pattern}"
        names.add(pattern.name)
    return names


def test_it_covers_every_route() -> None:
    assert helpdesk_route_names() == set(EXPECTED), (
        "Routes missing from (or stale in) the authorization table: "
        f"{helpdesk_route_names() ^ set(EXPECTED)}"
    )


@pytest.fixture
def world(
    customer: Any,
    other_customer: Any,
    agent: Any,
    manager: Any,
    admin_user: Any,
    full_ticket: Any,
    public_attachment: Any,
    settings: Any,
) -> dict[str, Any]:
    settings.HELPDESK_AGENTS_SEE_ALL = False
    outsider = user_create(
        email="otavio@support.example", full_name="Otávio", role=Role.AGENT, password=PASSWORD
    )
    Team.objects.create(name="Outra equipe").members.add(outsider)
    assert full_ticket.team is not None and agent in full_ticket.team.members.all()
    view = SavedView.objects.create(owner=customer, name="mine", querystring="status=open")
    notification = Notification.objects.create(
        recipient=customer, ticket=full_ticket, kind=Notification.Kind.REPLY
    )
    canned = CannedReply.objects.create(owner=agent, name="Olá", body="Olá {cliente}")
    latest = full_ticket.messages.exclude(kind="event").latest("id").pk
    mail = add_mail_with_image_and_eml(full_ticket, customer)
    image, eml = mail.attachments.order_by("id")
    return {
        "clients": {
            "anon": Client(),
            "owner": client_for(customer),
            "stranger": client_for(other_customer),
            "agent": client_for(agent),
            "manager": client_for(manager),
            "outsider": client_for(outsider),
            "admin": client_for(admin_user),
        },
        "kwargs": {
            "": {},
            "bad_token": {"token": "not-a-token"},
            "reset": {"uidb64": "MQ", "token": "set-password"},
            "ticket": {"reference": full_ticket.reference},
            "message": {
                "reference": full_ticket.reference,
                "pk": latest,
            },
            "mail": {"reference": full_ticket.reference, "pk": mail.pk},
            "image": {"pk": image.pk},
            "eml": {"pk": eml.pk},
            "part": {"pk": eml.pk, "index": 0},
            "attachment": {"pk": public_attachment.pk},
            "view": {"pk": view.pk},
            "notification": {"pk": notification.pk},
            "canned": {"pk": canned.pk},
        },
        "ref": full_ticket.reference,
    }


def _row_counts() -> dict[str, int]:
    # The audit log is a trail, not state: reading an export is recorded there.
    return {
        m._meta.label: m._default_manager.count()
        for m in apps.get_models()
        if m._meta.app_label in {"helpdesk", "tickets"} and m._meta.label != "helpdesk.AuditEntry"
    }


def _request(client: Client, method: str, url: str, data: dict[str, Any], ref: str) -> Any:
    data = {k: (ref if v == "$ref" else v) for k, v in data.items()}
    return client.get(url) if method == "GET" else client.post(url, data)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_it_enforces_the_table(world: dict[str, Any], name: str) -> None:
    from django.urls import reverse

    method, kwargs_key, data, expected = EXPECTED[name]
    url = reverse(name, kwargs=world["kwargs"][kwargs_key])
    for actor in ALL_ACTORS:
        before = _row_counts() if method == "GET" else None
        response = _request(world["clients"][actor], method, url, data, world["ref"])
        want = expected[actor]
        if want != ANY:
            assert response.status_code == want, (
                f"{name} {method} as {actor}: {response.status_code} != {want}"
            )
        if want == LOGIN and actor == "anon":
            assert response["Location"].startswith("/accounts/login/"), name
        if before is not None:
            assert _row_counts() == before, f"GET {name} as {actor} changed the database"
        content_type = response.get("Content-Type", "")
        if content_type.startswith("text/html") and name in FRAMED and response.status_code == 200:
            policy = response["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "script-src" not in policy
            assert "frame-ancestors 'self'" in policy and "sandbox" in policy
            assert response["Referrer-Policy"] == "no-referrer"
        elif content_type.startswith("text/html"):
            policy = response["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "unsafe-inline" not in policy
            assert "frame-ancestors 'none'" in policy
            assert response["X-Content-Type-Options"] == "nosniff"
            assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(POST_ROUTES))
def test_it_refuses_posts_without_csrf(world: dict[str, Any], agent: Any, name: str) -> None:
    from django.urls import reverse

    _method, kwargs_key, data, _expected = EXPECTED[name]
    if name == "saved_view_delete":
        world["kwargs"]["view"] = {"pk": SavedView.objects.create(owner=agent, name="a").pk}
    url = reverse(name, kwargs=world["kwargs"][kwargs_key])
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)
    before = _row_counts()
    response = client.post(url, {k: (world["ref"] if v == "$ref" else v) for k, v in data.items()})
    assert response.status_code == 403, name
    assert _row_counts() == before


@pytest.mark.django_db
def test_it_keeps_the_root_urls_in_one_table() -> None:
    # Every helpdesk route is reachable through the project's root URLconf.
    names = {p.name for _r, p in _patterns(get_resolver()) if p.name}
    assert helpdesk_route_names() <= names
