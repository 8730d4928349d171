"""poll_imap as real processes: killed mid-batch (F1), and overlapping cron runs (rule 8)."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from mailgateway import locks
from mailgateway.mailboxes import ImapSeen
from mailgateway.models import InboundMessage
from mailgateway.poller import lock_name
from tests.mailgateway.dovecot import Dovecot
from tests.mailgateway.imap_helpers import append, folder_message_ids, mailbox_for
from tickets.models import Ticket
from tickets.services import normalize_message_id

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for_progress(proc: Any, box: Any, at_least: int) -> bool:
    """Until the child has taken and acknowledged (moved) at_least mails; False
    if it finished first. Stored is not enough: a SIGTERM between the commit and
    the move leaves the move to the next run (step 3), which is not this test."""
    deadline = time.monotonic() + 120  # a hang guard, not a timing assertion
    while ImapSeen.objects.filter(mailbox=box, acknowledged=True).count() < at_least:
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_poller_killed_mid_batch_loses_and_repeats_nothing(dovecot: Dovecot, manage: Any) -> None:
    from tests.mailgateway.imap_helpers import mail

    user, password = dovecot.add_user()
    append(dovecot, user, password, [mail(i, tag=user) for i in range(200)])
    box = mailbox_for(dovecot, user, password)

    kills = 0
    for target in (15, 70, 130):  # inside the 1st and 2nd batch of 100
        proc = manage("poll_imap", "--once", "--mailbox", box.name)
        if _wait_for_progress(proc, box, target):
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.communicate(timeout=60)
    assert kills >= 1, "the poller finished before it could be killed"

    final = manage("poll_imap", "--once", "--mailbox", box.name)
    _out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err

    expected = [f"<{user}-{i}@exemplo.com.br>" for i in range(200)]
    stored = InboundMessage.objects.filter(mailbox=box.name).exclude(outcome="duplicate")
    assert sorted(stored.values_list("message_id", flat=True)) == sorted(
        normalize_message_id(m) for m in expected
    )
    assert Ticket.objects.count() == 200
    # Every source message moved exactly once, none left behind.
    assert folder_message_ids(dovecot, user, password, "INBOX") == []
    assert folder_message_ids(dovecot, user, password, "Processed") == sorted(expected)
    assert ImapSeen.objects.filter(mailbox=box, acknowledged=True).count() == 200


def test_a_second_poller_exits_at_once_while_one_runs(dovecot: Dovecot, manage: Any) -> None:
    from tests.mailgateway.imap_helpers import mail

    user, password = dovecot.add_user()
    append(dovecot, user, password, [mail(i, tag=user) for i in range(3)])
    box = mailbox_for(dovecot, user, password)

    with locks.try_lock(lock_name(box)) as held:  # "the first poller", in this process
        assert held
        second = manage("poll_imap", "--once", "--mailbox", box.name, "-v", "2")
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert "another poller" in out
        assert ImapSeen.objects.count() == 0
        assert len(folder_message_ids(dovecot, user, password, "INBOX")) == 3
        with locks.try_lock(lock_name(box)) as again:
            assert not again  # the lock holds against this process too (flock per open file)

    after = manage("poll_imap", "--once", "--mailbox", box.name)
    out, err = after.communicate(timeout=60)
    assert after.returncode == 0, err
    assert "3 new" in out and Ticket.objects.count() == 3


def test_bad_usage_is_one_line_and_exit_64(db: Any, manage: Any) -> None:
    proc = manage("poll_imap", "--once", "--mailbox", "no-such-box")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 64
    assert "no mailbox named 'no-such-box'" in err and "Traceback" not in err


def test_idle_takes_new_mail_without_a_new_run_and_stops_on_sigterm(
    dovecot: Dovecot, manage: Any
) -> None:
    from tests.mailgateway.imap_helpers import mail

    user, password = dovecot.add_user()
    append(dovecot, user, password, [mail(0, tag=user)])
    box = mailbox_for(dovecot, user, password)

    proc = manage("poll_imap", "--idle", "--mailbox", box.name)
    try:
        assert _wait_for_progress(proc, box, 1), proc.communicate()
        # Delivered while the poller sits in IDLE: the server's EXISTS wakes it.
        append(dovecot, user, password, [mail(1, tag=user), mail(2, tag=user)])
        assert _wait_for_progress(proc, box, 3), proc.communicate()
        assert proc.poll() is None  # still the same run
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert Ticket.objects.count() == 3
    assert len(folder_message_ids(dovecot, user, password, "Processed")) == 3
    box.refresh_from_db()
    assert box.last_error == ""  # the shutdown is not an error
