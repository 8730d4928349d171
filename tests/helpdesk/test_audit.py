"""The audit log (helpdesk.audit) and the structured log lines (config.logs)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from config.logs import JsonFormatter, PlainFormatter
from helpdesk.accounts import user_set_role
from helpdesk.api.tokens import token_create, token_revoke
from helpdesk.models import AuditEntry
from helpdesk.roles import Role
from tests.conftest import PASSWORD
from tests.helpdesk.conftest import client_for

Action = AuditEntry.Action


def test_sign_ins_and_failures_are_audited_without_the_password(agent: Any, caplog: Any) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    with caplog.at_level(logging.INFO, logger="helpdesk.audit"):
        client.post("/accounts/login/", {"username": agent.email, "password": "wrong-guess"})
        client.post("/accounts/login/", {"username": agent.email, "password": PASSWORD})
        client.post("/accounts/logout/")
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "actor_email", "ip"))
    assert entries == [
        (Action.LOGIN_FAILED, agent.email, "203.0.113.9"),
        (Action.LOGIN, agent.email, "203.0.113.9"),
        (Action.LOGOUT, agent.email, "203.0.113.9"),
    ]
    assert AuditEntry.objects.get(action=Action.LOGIN).actor == agent
    logged = "\n".join(r.getMessage() + json.dumps(r.__dict__, default=str) for r in caplog.records)
    assert "login_failed" in logged and "wrong-guess" not in logged and PASSWORD not in logged


def test_admin_changes_and_role_changes_are_audited(admin_user: Any, agent: Any) -> None:
    client = client_for(admin_user)
    response = client.post("/admin/auth/group/add/", {"name": "Plantão"})
    assert response.status_code == 302
    created = AuditEntry.objects.get(action=Action.CREATED)
    assert (created.actor, created.object_type, created.object_repr) == (
        admin_user,
        "auth.group",
        "Plantão",
    )
    assert created.object_id == str(Group.objects.get(name="Plantão").pk)
    assert created.ip == "127.0.0.1"

    user_set_role(user=agent, role=Role.MANAGER)
    changes = list(
        AuditEntry.objects.filter(action=Action.PERMISSIONS, object_repr=str(agent)).values_list(
            "detail", flat=True
        )
    )
    assert changes == ["role: agent → manager"]  # its group bookkeeping is no second entry
    # A group given by hand (not the role's) is an admin's decision: recorded.
    agent.groups.add(Group.objects.get(name="Plantão"))
    added = AuditEntry.objects.filter(action=Action.PERMISSIONS).latest("id")
    assert added.detail.endswith("added: Plantão") and added.object_id == str(agent.pk)


def test_tokens_and_exports_are_audited(manager: Any) -> None:
    token, _secret = token_create(user=manager, name="CRM sync")
    token_revoke(token=token)
    client_for(manager).get("/reports/export.csv")
    actions = list(
        AuditEntry.objects.exclude(action=Action.LOGIN)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [Action.TOKEN_CREATED, Action.TOKEN_REVOKED, Action.EXPORT]
    assert AuditEntry.objects.get(action=Action.EXPORT).actor == manager
    assert _secret not in "".join(AuditEntry.objects.values_list("detail", "object_repr").__str__())


def test_the_audit_log_is_read_only_and_filterable_in_the_admin(
    admin_user: Any, agent: Any
) -> None:
    user_set_role(user=agent, role=Role.MANAGER)
    entry = AuditEntry.objects.first()
    assert entry is not None
    client = client_for(admin_user)
    page = client.get("/admin/helpdesk/auditentry/", {"action__exact": "permissions"})
    assert page.status_code == 200 and agent.email.encode() in page.content
    assert client.get("/admin/helpdesk/auditentry/add/").status_code == 403
    assert client.post(f"/admin/helpdesk/auditentry/{entry.pk}/delete/").status_code == 403
    before = AuditEntry.objects.count()
    client.post(f"/admin/helpdesk/auditentry/{entry.pk}/change/", {"detail": "forged"})
    assert AuditEntry.objects.get(pk=entry.pk).detail != "forged"
    assert AuditEntry.objects.count() >= before


def test_prune_audit_keeps_the_configured_days(db: Any, settings: Any, capsys: Any) -> None:
    old = AuditEntry.objects.create(action=Action.LOGIN, actor_email="old@example.com")
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=400))
    AuditEntry.objects.create(action=Action.LOGIN, actor_email="new@example.com")
    call_command("prune_audit")
    assert list(AuditEntry.objects.values_list("actor_email", flat=True)) == ["new@example.com"]
    assert "deleted 1" in capsys.readouterr().out
    settings.HELPDESK_AUDIT_DAYS = 0
    with pytest.raises(Exception, match="at least 1"):
        call_command("prune_audit")


def _record(message: str, **extra: Any) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "t", "levelname": "INFO", "msg": message})
    record.__dict__.update(extra)
    return record


def test_log_lines_are_json_with_their_fields_and_never_a_secret() -> None:
    record = _record(
        "poll imaps://suporte:s3nh4@mail.example/INBOX failed, password=hunter2",
        event="mail.ingested",
        door="imap",
        outcome="created",
        reference="HD-2026-0001",
        ms=12,
        api_token="hd_abcdef",
        header="Authorization: Bearer hd_xyz123",
    )
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["event"] == "mail.ingested" and entry["ms"] == 12
    assert entry["reference"] == "HD-2026-0001" and entry["level"] == "INFO"
    for secret in ("s3nh4", "hunter2", "hd_abcdef", "hd_xyz123"):
        assert secret not in line
    plain = PlainFormatter().format(record)
    assert "door=imap outcome=created" in plain and "hunter2" not in plain


def test_every_ingested_mail_is_one_log_event(db: Any, caplog: Any) -> None:
    from mailgateway.ingest import ingest_raw_email
    from tests.mailgateway.conftest import make_mail

    raw = make_mail(subject="Impressora parada")
    with caplog.at_level(logging.INFO, logger="mailgateway"):
        first = ingest_raw_email(raw, door="pipe")
        ingest_raw_email(raw, door="smtp")
    events = [r.__dict__ for r in caplog.records if getattr(r, "event", "") == "mail.ingested"]
    assert [(e["door"], e["outcome"], e["reference"]) for e in events] == [
        ("pipe", "created", first.reference),
        ("smtp", "duplicate", first.reference),
    ]
    assert all(isinstance(e["ms"], int) and e["ms"] >= 0 for e in events)
