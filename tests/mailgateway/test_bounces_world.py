"""Bounces and auto-replies shaped like what real mail servers send (Postfix,
Exim, qmail, sendmail, Exchange in ten languages, Gmail, GroupWise, Domino,
Symantec, MDaemon, Kerio, antivirus gateways, Mailman and Google Groups),
and people's mails that only look like them. Each NAME.eml sits beside
NAME.expected: bounce, autoreply or person. A person taken for a machine
is the worse mistake: the customer's mail would be swallowed."""

from __future__ import annotations

import pytest

from mailgateway.autoreply import classify
from mailgateway.ingest import ingest_raw_email
from mailgateway.prepare import prepare
from outbound.models import BouncingAddress
from tests.mailgateway.conftest import FIXTURES

BOUNCES = FIXTURES / "real" / "bounces"
ALL = sorted(p.stem for p in BOUNCES.glob("*.eml"))


def expected(name: str) -> str:
    return (BOUNCES / f"{name}.expected").read_text().strip()


def test_the_corpus_is_there() -> None:
    kinds = [expected(name) for name in ALL]
    assert kinds.count("person") >= 40
    assert len(kinds) - kinds.count("person") >= 40


@pytest.mark.django_db
@pytest.mark.parametrize("name", ALL)
def test_it_tells_machines_from_people(name: str) -> None:
    mail = prepare((BOUNCES / f"{name}.eml").read_bytes()).mail
    verdict = classify(mail, recent=0)
    assert verdict.kind == expected(name), verdict.reason
    assert bool(verdict.reason) == (verdict.kind != "person")


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["exim_failed", "exchange_ndr_report", "exim_x_failed_only"])
def test_a_bounce_marks_the_address(name: str) -> None:
    result = ingest_raw_email((BOUNCES / f"{name}.eml").read_bytes(), door="pipe")
    assert result.outcome == "bounce"
    assert BouncingAddress.objects.filter(email="cliente@destino.com.br").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["domino_failure_report_no_address", "groupwise_postmaster_null"])
def test_a_report_from_an_empty_address_is_a_bounce_not_quarantined(name: str) -> None:
    result = ingest_raw_email((BOUNCES / f"{name}.eml").read_bytes(), door="pipe")
    assert result.outcome == "bounce"
