"""Canned replies: placeholders, who sees which, the picker, #canned by mail,
and the agent's page."""

from __future__ import annotations

import json
import re
from typing import Any

from helpdesk.accounts import user_create
from helpdesk.roles import Role
from mailgateway.ingest import ingest_raw_email
from outbound.tokens import reply_address
from tests.helpdesk.conftest import client_for
from tests.mailgateway.conftest import make_mail
from tickets.canned import canned_find, canned_for, canned_render
from tickets.models import CannedReply, Team, Ticket


def test_placeholders_are_filled_in_both_languages_and_nothing_else(
    ticket: Ticket, agent: Any
) -> None:
    canned = CannedReply(
        name="x", body="Olá {cliente}, sobre {referencia} ({subject}): {agent_name}. {unknown}"
    )
    assert canned_render(canned, ticket=ticket, agent=agent) == (
        f"Olá Carla, sobre {ticket.reference} (Impressora não imprime): Ana Agente. {{unknown}}"
    )
    canned.body = "{reference.__class__} {reference!r} {subject:>40}"
    assert canned_render(canned, ticket=ticket, agent=agent) == canned.body  # no reaching in
    canned.body = "chaves sozinhas { e }"
    assert canned_render(canned, ticket=ticket, agent=agent) == canned.body


def test_agents_see_their_own_their_teams_and_everyones(agent: Any, team: Team) -> None:
    other = user_create(email="beto@support.example", full_name="Beto", role=Role.AGENT)
    other_team = Team.objects.create(name="Outra")
    mine = CannedReply.objects.create(owner=agent, name="Minha", body="a")
    ours = CannedReply.objects.create(team=team, name="Da equipe", body="b")
    everyone = CannedReply.objects.create(name="Geral", body="c")
    CannedReply.objects.create(owner=other, name="Do Beto", body="d")
    CannedReply.objects.create(team=other_team, name="De outra equipe", body="e")
    assert set(canned_for(agent)) == {mine, ours, everyone}
    CannedReply.objects.create(name="minha", body="global com o mesmo nome")
    assert canned_find(agent, "MINHA") == mine  # their own first


def test_the_reply_box_offers_them_filled_in(ticket: Ticket, agent: Any) -> None:
    CannedReply.objects.create(owner=agent, name="Reiniciar", body="Olá {cliente}, reinicie.")
    page = client_for(agent).get(ticket.get_absolute_url()).content.decode()
    data = re.search(r'<script id="canned-replies" type="application/json">(.*?)</script>', page)
    assert data is not None
    [reply] = json.loads(data.group(1))
    assert reply["name"] == "Reiniciar" and reply["body"] == "Olá Carla, reinicie."
    assert "js/canned.js" in page and 'list="canned-options"' in page


def test_customers_get_no_canned_replies(ticket: Ticket, customer: Any, agent: Any) -> None:
    CannedReply.objects.create(name="Geral", body="texto interno de modelo")
    page = client_for(customer).get(ticket.get_absolute_url()).content.decode()
    assert "canned-replies" not in page and "texto interno de modelo" not in page


def test_a_canned_line_in_a_mail_reply_starts_the_body(
    ticket: Ticket, agent: Any, settings: Any, tmp_path: Any
) -> None:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    CannedReply.objects.create(owner=agent, name="toner", body="Olá {cliente}, troque o toner.")
    raw = make_mail(
        sender=agent.email,
        to=reply_address(ticket.pk, agent.pk),
        subject=f"Re: [{ticket.reference}]",
        body="#canned Toner\n\nQualquer dúvida, responda.",
    )
    ingest_raw_email(raw, door="pipe")
    entry = ticket.messages.latest("id")
    assert entry.kind == "reply"
    assert entry.body == "Olá Carla, troque o toner.\n\nQualquer dúvida, responda."


def test_an_unknown_canned_name_is_told_to_staff_only(
    ticket: Ticket, agent: Any, settings: Any, tmp_path: Any
) -> None:
    settings.HELPDESK_RAW_DIR = tmp_path / "raw"
    raw = make_mail(
        sender=agent.email,
        to=reply_address(ticket.pk, agent.pk),
        subject=f"Re: [{ticket.reference}]",
        body="#canned nada\n\nResposta.",
    )
    ingest_raw_email(raw, door="pipe")
    assert ticket.messages.filter(kind="reply").latest("id").body == "Resposta."
    event = ticket.messages.get(kind="event")
    assert "nada" in event.body and event.author == agent


def test_an_agent_keeps_their_canned_replies_on_their_page(agent: Any, team: Team) -> None:
    client = client_for(agent)
    assert client.get("/canned/").status_code == 200
    bad = client.post("/canned/", {"name": "", "body": ""})
    assert bad.status_code == 400
    client.post("/canned/", {"name": "Saudação", "body": "Olá {cliente}", "language": "pt-br"})
    client.post("/canned/", {"name": "Equipe", "body": "Oi", "team": team.pk})
    mine = CannedReply.objects.get(name="Saudação")
    assert mine.owner == agent and mine.team is None
    assert CannedReply.objects.get(name="Equipe").team == team
    page = client.get("/canned/").content.decode()
    assert "Saudação" in page and "Equipe" in page
    assert client.post(f"/canned/{mine.pk}/delete/").status_code == 302
    assert not CannedReply.objects.filter(pk=mine.pk).exists()
    shared = CannedReply.objects.get(name="Equipe")
    assert client.post(f"/canned/{shared.pk}/delete/").status_code == 404  # not personal
