"""The IMAP poller against a real Dovecot: take, acknowledge, never twice."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.management import call_command

from mailgateway.imap_runner import mailboxes
from mailgateway.mailboxes import ENV_MAILBOX_NAME, ImapSeen, Mailbox
from mailgateway.models import InboundMessage
from mailgateway.poller import poll_mailbox
from tests.mailgateway.dovecot import Dovecot
from tests.mailgateway.imap_helpers import (
    append,
    flags,
    folder_message_ids,
    imap,
    mail,
    mailbox_for,
)
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_it_takes_200_mails_and_moves_them(dovecot: Dovecot) -> None:
    user, password = dovecot.add_user()
    sent = [mail(i, tag=user) for i in range(200)]
    append(dovecot, user, password, sent)
    box = mailbox_for(dovecot, user, password)

    result = poll_mailbox(box)

    assert result.error == "" and result.outcomes == {"created": 200}
    assert Ticket.objects.count() == 200
    taken = InboundMessage.objects.filter(door="imap", mailbox=box.name)
    assert taken.count() == 200
    assert folder_message_ids(dovecot, user, password, "INBOX") == []
    expected = sorted(f"<{user}-{i}@exemplo.com.br>" for i in range(200))
    assert folder_message_ids(dovecot, user, password, "Processed") == expected
    assert ImapSeen.objects.filter(mailbox=box, acknowledged=True).count() == 200
    box.refresh_from_db()
    assert box.last_success_at is not None and box.last_error == ""

    again = poll_mailbox(box)
    assert again.taken == 0 and Ticket.objects.count() == 200


def test_it_can_mark_seen_instead_and_still_takes_each_mail_once(dovecot: Dovecot) -> None:
    user, password = dovecot.add_user()
    append(dovecot, user, password, [mail(i, tag=user) for i in range(5)])
    box = mailbox_for(dovecot, user, password, action="seen")

    assert poll_mailbox(box).outcomes == {"created": 5}
    assert all(b"\\Seen" in f for f in flags(dovecot, user, password))
    # Someone reading the mailbox unflags one: it is still not taken again.
    with imap(dovecot, user, password) as client:
        client.select_folder("INBOX")
        client.remove_flags(client.search("ALL")[:1], [b"\\Seen"])
    assert poll_mailbox(box).taken == 0
    assert Ticket.objects.count() == 5


def test_it_can_delete_after_taking(dovecot: Dovecot) -> None:
    user, password = dovecot.add_user()
    append(dovecot, user, password, [mail(i, tag=user) for i in range(3)])
    box = mailbox_for(dovecot, user, password, action="delete")

    assert poll_mailbox(box).outcomes == {"created": 3}
    assert folder_message_ids(dovecot, user, password, "INBOX") == []
    with imap(dovecot, user, password) as client:
        assert not client.folder_exists("Processed")


def test_a_uidvalidity_change_makes_no_duplicates(dovecot: Dovecot, caplog: Any) -> None:
    user, password = dovecot.add_user()
    folder = "Suporte"
    sent = [mail(i, tag=user) for i in range(10)]
    append(dovecot, user, password, sent, folder=folder)
    box = mailbox_for(dovecot, user, password, folder=folder, action="seen")
    assert poll_mailbox(box).outcomes == {"created": 10}
    box.refresh_from_db()
    old = box.uidvalidity

    # The folder is deleted and recreated with the same mails (a server migration,
    # a restore): the same UIDs may now name other messages.
    with imap(dovecot, user, password) as client:
        client.delete_folder(folder)
    append(dovecot, user, password, sent, folder=folder)
    status = dovecot.doveadm("mailbox", "status", "-u", user, "uidvalidity", folder)
    if f"uidvalidity={old}" in status:  # same second: make the change explicit
        dovecot.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(old + 1), folder)

    with caplog.at_level(logging.WARNING, logger="mailgateway.poller"):
        result = poll_mailbox(box)

    assert result.outcomes == {"duplicate": 10}
    assert Ticket.objects.count() == 10
    assert "UIDVALIDITY" in caplog.text
    box.refresh_from_db()
    assert box.uidvalidity != old
    assert set(ImapSeen.objects.filter(mailbox=box).values_list("uidvalidity", flat=True)) == {
        box.uidvalidity
    }
    assert poll_mailbox(box).taken == 0


def test_a_wrong_password_is_recorded_and_shown_in_healthz(
    dovecot: Dovecot, client: Any, caplog: Any
) -> None:
    user, _password = dovecot.add_user()
    secret = "not-the-Password-123"
    box = mailbox_for(dovecot, user, secret)

    with caplog.at_level(logging.DEBUG):
        result = poll_mailbox(box)

    assert "AUTHENTICATIONFAILED" in result.error
    box.refresh_from_db()
    assert "AUTHENTICATIONFAILED" in box.last_error and box.last_error_at is not None
    from helpdesk.accounts import user_create

    client.force_login(user_create(email="ops@support.example", role="admin"))
    response = client.get("/healthz")  # staff see the server's reply; anonymous see "hidden"
    assert response.status_code == 503
    imap_check = response.json()["checks"]["imap"]
    assert imap_check["ok"] is False
    [entry] = [m for m in imap_check["mailboxes"] if m["name"] == box.name]
    assert "AUTHENTICATIONFAILED" in entry["error"]
    # The password is nowhere: not in the log, the row, or the health report.
    assert secret not in caplog.text
    assert secret not in response.content.decode()
    assert secret not in str(Mailbox.objects.filter(pk=box.pk).values().get())


def test_an_unreachable_server_is_an_error_not_a_crash(db: Any) -> None:
    from tests.mailgateway.dovecot import free_port

    box = Mailbox(name="nowhere", host="127.0.0.1", port=free_port(), security="none", username="x")
    box.set_password("x")
    box.save()
    result = poll_mailbox(box)
    assert result.error.startswith("cannot connect to 127.0.0.1")


def test_helpdesk_imap_url_defines_one_more_mailbox(dovecot: Dovecot, settings: Any) -> None:
    user, password = dovecot.add_user()
    append(dovecot, user, password, [mail(i, tag=user) for i in range(2)])
    settings.HELPDESK_IMAP_URL = (
        f"imap://{user}:{password}@127.0.0.1:{dovecot.port}/INBOX?security=none&action=seen"
    )

    call_command("poll_imap", "--once")

    box = Mailbox.objects.get(name=ENV_MAILBOX_NAME)
    assert box.from_env and box.action == "seen" and box.last_error == ""
    assert box.password_encrypted == "" and password not in str(
        Mailbox.objects.filter(pk=box.pk).values().get()
    )
    assert InboundMessage.objects.filter(mailbox=ENV_MAILBOX_NAME).count() == 2

    settings.HELPDESK_IMAP_URL = ""
    assert mailboxes() == []  # switched off when the variable goes away


def test_mail_that_cannot_be_stored_stays_untouched_on_the_server(
    dovecot: Dovecot, settings: Any, tmp_path: Any
) -> None:
    user, password = dovecot.add_user()
    append(dovecot, user, password, [mail(i, tag=user) for i in range(3)])
    box = mailbox_for(dovecot, user, password)
    good_dir = settings.HELPDESK_RAW_DIR
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    settings.HELPDESK_RAW_DIR = blocker / "raw"  # ENOTDIR, even for root: "disk trouble"

    result = poll_mailbox(box)

    assert result.transient and "could not store mail" in result.error
    assert InboundMessage.objects.count() == 0 and ImapSeen.objects.count() == 0
    assert len(folder_message_ids(dovecot, user, password, "INBOX")) == 3
    assert all(b"\\Seen" not in f for f in flags(dovecot, user, password))
    box.refresh_from_db()
    assert box.last_error

    settings.HELPDESK_RAW_DIR = good_dir
    assert poll_mailbox(box).outcomes == {"created": 3}
    assert folder_message_ids(dovecot, user, password, "INBOX") == []


def test_mail_refused_for_good_is_left_on_the_server_and_not_fetched_again(
    dovecot: Dovecot, settings: Any
) -> None:
    user, password = dovecot.add_user()
    append(dovecot, user, password, [mail(0, tag=user)])
    box = mailbox_for(dovecot, user, password)
    settings.HELPDESK_MAX_MESSAGE_MB = 0  # every mail is now "too large"

    assert poll_mailbox(box).outcomes == {"rejected": 1}
    assert poll_mailbox(box).taken == 0  # remembered: not fetched again
    assert len(folder_message_ids(dovecot, user, password, "INBOX")) == 1
    assert InboundMessage.objects.count() == 0


def test_healthz_flags_stale_mailboxes_and_warns_before_credentials_expire(db: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from mailgateway import imap_health

    box = Mailbox.objects.create(
        name="old", host="imap.example.com", username="u", secret_env="IMAP_PW"
    )
    assert imap_health.probe()["ok"] is True  # just configured: not stale yet
    Mailbox.objects.filter(pk=box.pk).update(
        created_at=timezone.now() - timedelta(hours=2),
        credentials_expire_on=timezone.localdate() + timedelta(days=3),
    )
    report = imap_health.probe()
    assert report["ok"] is False and report["mailboxes"][0]["stale"] is True
    assert report["warnings"] == [
        f"old: credentials expire on {timezone.localdate() + timedelta(days=3)}"
    ]
    Mailbox.objects.filter(pk=box.pk).update(last_success_at=timezone.now(), is_active=True)
    assert imap_health.probe()["ok"] is True
