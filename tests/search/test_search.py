"""Full-text search on the database's own engine (run on SQLite and PostgreSQL)."""

from typing import Any

import pytest

from tickets import access, services
from tickets.models import Message, Ticket
from tickets.search import count_matches, parse_query, search_tickets


def found(text: str, *, include_notes: bool = False) -> list[Ticket]:
    ranked = list(search_tickets(Ticket.objects.all(), text, include_notes=include_notes))
    # The unranked form (for common words) must match exactly the same tickets.
    unranked = search_tickets(
        Ticket.objects.order_by("-updated_at", "-id"),
        text,
        include_notes=include_notes,
        ranked=False,
    )
    assert sorted(t.pk for t in unranked) == sorted(t.pk for t in ranked), text
    return ranked


@pytest.fixture
def budget(customer: Any) -> Ticket:
    return services.ticket_create(
        requester=customer,
        subject="Orçamento de manutenção",
        body="Preciso de um orçamento para a manutenção das máquinas.",
    )


@pytest.fixture
def invoice(other_customer: Any) -> Ticket:
    return services.ticket_create(
        requester=other_customer,
        subject="Invoice overdue",
        body="Our invoice for October was charged twice, please refund.",
    )


def test_it_ignores_accents_both_ways(ticket: Ticket, budget: Ticket, customer: Any) -> None:
    plain = services.ticket_create(requester=customer, subject="Acao judicial", body="sem acento")
    assert found("orcamento") == [budget]
    assert found("ORÇAMENTO") == [budget]
    assert found("manutencao") == [budget]
    assert found("ação") == [plain]
    assert found("impressora nao imprime") == [ticket]


def test_it_finds_portuguese_and_english_words(
    ticket: Ticket, budget: Ticket, invoice: Ticket
) -> None:
    assert found("máquinas") == [budget]
    assert found("charged twice") == [invoice]
    assert found("refund") == [invoice]
    assert found("october refund") == [invoice]
    assert found("refund orçamento") == []


def test_the_last_word_is_a_prefix(ticket: Ticket, invoice: Ticket) -> None:
    assert found("impres") == [ticket]
    assert found("invo") == [invoice]
    assert found("our invo") == [invoice]
    # A finished word (followed by a space) is not a prefix any more.
    assert found("impres ") == []


def test_it_finds_a_ticket_by_its_reference(ticket: Ticket, budget: Ticket) -> None:
    assert found(ticket.reference) == [ticket]
    assert found(budget.reference.lower()) == [budget]
    assert found(f"  {budget.reference}  ") == [budget]


def test_it_matches_across_subject_and_replies(ticket: Ticket, agent: Any) -> None:
    services.ticket_reply_add(ticket=ticket, author=agent, body="Troque o cartucho de tinta.")
    assert found("impressora cartucho") == [ticket]
    assert found('"cartucho de tinta"') == [ticket]
    assert found('"tinta de cartucho"') == []


def test_customers_never_match_internal_notes(ticket: Ticket, agent: Any, customer: Any) -> None:
    services.ticket_reply_add(
        ticket=ticket, author=agent, body="Cliente difícil, verificar contrato", internal=True
    )
    assert found("contrato") == []
    assert found("impressora contrato") == []
    assert found('"verificar contrato"') == []
    assert found("contrato", include_notes=True) == [ticket]
    assert found("impressora contrato", include_notes=True) == [ticket]
    mine = access.visible_tickets(customer)
    assert list(search_tickets(mine, "contrato", include_notes=access.is_staff(customer))) == []


def test_it_follows_replies_edits_moves_and_deletions(
    ticket: Ticket, budget: Ticket, agent: Any
) -> None:
    assert found("toner") == []
    reply = services.ticket_reply_add(ticket=ticket, author=agent, body="Falta toner.")
    assert found("toner") == [ticket]
    Message.objects.filter(pk=reply.pk).update(body="Falta papel.")
    assert found("toner") == [] and found("papel") == [ticket]
    Message.objects.filter(pk=reply.pk).update(ticket=budget)
    assert found("papel") == [budget]
    Message.objects.filter(pk=reply.pk).update(kind=Message.Kind.NOTE)
    assert found("papel") == [] and found("papel", include_notes=True) == [budget]
    Message.objects.filter(pk=reply.pk).delete()
    assert found("papel", include_notes=True) == []
    assert found("orçamento") == [budget]


def test_it_follows_subject_changes_and_deleted_tickets(ticket: Ticket) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(subject="Scanner travado")
    assert found("scanner") == [ticket] and found("imprime") == []
    # The body still mentions it.
    assert found("funciona") == [ticket]
    ticket.delete()
    assert found("scanner") == [] and found("funciona") == []


def test_it_ranks_the_subject_above_a_mention_in_the_thread(
    customer: Any, other_customer: Any
) -> None:
    mention = services.ticket_create(
        requester=customer, subject="Dúvida geral", body="Também tenho um problema com o roteador."
    )
    subject = services.ticket_create(
        requester=other_customer, subject="Roteador reiniciando", body="Reinicia toda hora."
    )
    assert found("roteador") == [subject, mention]


def test_it_keeps_the_callers_filters(ticket: Ticket, budget: Ticket, other_customer: Any) -> None:
    mine = access.visible_tickets(other_customer)
    assert list(search_tickets(mine, "orçamento")) == []
    assert list(search_tickets(Ticket.objects.filter(pk=budget.pk), "orçamento")) == [budget]
    assert search_tickets(Ticket.objects.all(), "orçamento").count() == 1


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '""',
        '"impressora',
        'impressora"',
        'impressora "não',
        "*",
        "impres*",
        "NEAR",
        "NEAR(impressora não)",
        "impressora NEAR/2 não",
        "-impressora",
        "impressora -não",
        "subject:impressora",
        "{subject}: impressora",
        ":",
        "^impressora",
        "impressora AND OR NOT",
        "(impressora",
        "impressora)",
        "'",
        "impressora'; DROP TABLE tickets_ticket; --",
        "%",
        "_",
        "\\",
        "impressora & | ! <-> :*",
        "a" * 5000,
        "\x00",
    ],
)
def test_hostile_queries_never_break_the_sql(ticket: Ticket, hostile: str) -> None:
    results = found(hostile)
    assert results in ([], [ticket])
    assert found(hostile, include_notes=True) == results
    # Operators are plain text: only punctuation around the word is ignored.
    words = {w.strip("\"*-:^(){}'%_\\&|!<>;") for w in hostile.lower().split()} - {""}
    if words == {"impressora"} or words == {"impressora", "não"}:
        assert results == [ticket]


def test_blank_text_returns_the_queryset_unchanged(ticket: Ticket, budget: Ticket) -> None:
    everything = Ticket.objects.all()
    assert search_tickets(everything, "   ") is everything
    assert found("-- : *") == []


def test_count_matches_counts_all_tickets_up_to_the_limit(
    ticket: Ticket, budget: Ticket, agent: Any, customer: Any
) -> None:
    services.ticket_reply_add(ticket=budget, author=agent, body="imprime depois", internal=True)
    assert count_matches("imprime") == 1
    assert count_matches("imprime", include_notes=True) == 2
    assert count_matches("imprime", include_notes=True, limit=1) == 2
    assert count_matches("zzzz") == 0
    assert count_matches("  ") == 0 and count_matches("-- :") == 0
    for number in range(3):
        services.ticket_create(requester=customer, subject=f"Impressora {number}", body="x")
    # Never more than limit + 1: enough to tell "more than limit".
    assert count_matches("impressora", limit=2) == 3


def test_parse_query_quotes_phrases_and_prefixes_the_last_word() -> None:
    terms = parse_query('orçamento "troca de peça" impres')
    assert [(t.text, t.phrase, t.prefix) for t in terms] == [
        ("orçamento", False, False),
        ("troca de peça", True, False),
        ("impres", False, True),
    ]
    assert [t.text for t in parse_query('a "unbalanced')] == ["a", "unbalanced"]


def test_postgresql_unaccents_with_the_extension_when_it_can(db: Any) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    with connection.cursor() as cursor:
        cursor.execute("SELECT helpdesk_unaccent('Orçamento Ação Über')")
        assert cursor.fetchone()[0] == "Orcamento Acao Uber"
        # The tests run as a superuser, so the extension is there.
        cursor.execute("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'")
        assert cursor.fetchone()[0] == 1
