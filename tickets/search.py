"""Full-text search over tickets: reference, subject and message bodies.

Backed by the database's own engine and the `tickets_search` index that the
migration 0003_search_index creates and its triggers keep in step: FTS5 on
SQLite, tsvector + GIN on PostgreSQL. Both ignore accents and case, match
the last word as a prefix ("impres" finds "impressora") and accept any user
input: the text is parsed here into plain words and "quoted phrases", and
only ever reaches the engine as quoted terms or bound parameters, never as
query syntax.

Internal notes are indexed apart from public text; they are searched only
when the caller says the user is staff (include_notes=True), so a note can
never make a ticket show up in a customer's list.

Ranking is for few matches. Ordering tens of thousands of matches by
relevance means reading every one of them, so for a common word the list
asks count_matches() first and, above RANK_LIMIT, searches with
ranked=False: the matches are then a filter on the caller's order (newest
first), which the database serves by walking an index on the tickets and
stopping after a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connections
from django.db.models import Exists, OuterRef, Q, QuerySet

from tickets.models import Message, Ticket

# What both engines treat as a word character (letters and digits).
_WORD = re.compile(r"[^\W_]+")
# Queries longer than this are cut: nobody types them, and they cost.
MAX_QUERY_CHARS = 200
MAX_TERMS = 12
# Above this many matches a search is not ranked (see the module docstring).
RANK_LIMIT = 1000


@dataclass(frozen=True)
class Term:
    """One part of a query: a word (maybe a prefix) or a quoted phrase."""

    text: str
    phrase: bool = False
    prefix: bool = False


def parse_query(text: str) -> list[Term]:
    """Split user input into terms: "quoted phrases" and plain words.

    An unbalanced quote is ignored, parts without a letter or digit are
    dropped, and the last plain word is a prefix unless the text ends
    with a space (the user finished typing it).
    """
    text = text[:MAX_QUERY_CHARS]
    terms: list[Term] = []
    parts = text.split('"')
    closed = len(parts) % 2 == 1
    for index, part in enumerate(parts):
        inside = index % 2 == 1 and (closed or index < len(parts) - 1)
        if inside:
            if _WORD.search(part):
                terms.append(Term(" ".join(part.split()), phrase=True))
            continue
        terms.extend(Term(word) for word in part.split() if _WORD.search(word))
    terms = terms[:MAX_TERMS]
    if terms and not terms[-1].phrase and not text[-1:].isspace():
        terms[-1] = Term(terms[-1].text, prefix=True)
    return terms


def fts5_query(terms: list[Term], *, include_notes: bool) -> str:
    """An FTS5 MATCH expression: every term a quoted string, so no operator
    (AND, NEAR, *, -, :, ^, parentheses) the user typed is ever syntax."""
    quoted = " ".join(
        '"' + term.text.replace('"', '""') + '"' + ("*" if term.prefix else "") for term in terms
    )
    if include_notes:
        return quoted
    return "{reference subject public_body} : (" + quoted + ")"


def search_tickets(
    queryset: QuerySet[Ticket], text: str, *, include_notes: bool = False, ranked: bool = True
) -> QuerySet[Ticket]:
    """The tickets of queryset matching text, most relevant first.

    Blank text returns queryset unchanged. Internal notes are searched only
    with include_notes=True (pass access.is_staff(user)). The relevance is
    annotated as search_rank: bm25 over the whole ticket on SQLite (lower
    is better); on PostgreSQL true when the reference or subject match,
    false when only the thread does; the newest change breaks ties. A later order_by()
    replaces the relevance order.

    ranked=False only filters: no search_rank, queryset's order kept. It
    is the form for a search that count_matches() says matches more than
    RANK_LIMIT tickets; on PostgreSQL it tests each ticket's vector as the
    ordering index is walked, which is fast only when matches are common.
    """
    if not text.strip():
        return queryset
    terms = parse_query(text)
    if not terms:
        return queryset.none()
    vendor = connections[queryset.db].vendor
    if vendor == "sqlite":
        if not ranked:
            return _sqlite_filter(queryset, terms, include_notes=include_notes)
        return _sqlite(queryset, terms, include_notes=include_notes)
    if vendor == "postgresql":
        if not ranked:
            return _postgresql_filter(queryset, terms, include_notes=include_notes)
        return _postgresql(queryset, terms, include_notes=include_notes)
    return _fallback(queryset, text, include_notes=include_notes)


def count_matches(
    text: str, *, include_notes: bool = False, limit: int = RANK_LIMIT, using: str = "default"
) -> int:
    """How many tickets match text, counted up to limit + 1 and over all
    tickets whoever may see them: a cheap probe for choosing between
    ranked and unranked search, never a number to show."""
    terms = parse_query(text)
    if not text.strip() or not terms:
        return 0
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM (SELECT rowid FROM tickets_search"
                " WHERE tickets_search MATCH %s LIMIT %s)",
                [fts5_query(terms, include_notes=include_notes), limit + 1],
            )
        elif connection.vendor == "postgresql":
            tsquery, params = _pg_tsquery(terms)
            cursor.execute(
                f"SELECT tickets_search_match_count({tsquery}, %s, %s)",
                [*params, include_notes, limit + 1],
            )
        else:
            return 0  # the LIKE fallback is never ranked anyway
        return int(cursor.fetchone()[0])


def _sqlite(
    queryset: QuerySet[Ticket], terms: list[Term], *, include_notes: bool
) -> QuerySet[Ticket]:
    return queryset.extra(
        tables=["tickets_search"],
        where=["tickets_search.rowid = tickets_ticket.id", "tickets_search MATCH %s"],
        params=[fts5_query(terms, include_notes=include_notes)],
        # rank is bm25 with the weights set in the migration: lower is better.
        select={"search_rank": "tickets_search.rank"},
        order_by=["search_rank", "-updated_at"],
    )


def _sqlite_filter(
    queryset: QuerySet[Ticket], terms: list[Term], *, include_notes: bool
) -> QuerySet[Ticket]:
    # The matching ids are read once into a temporary set; the caller's
    # order then walks its index and keeps the ids in the set. The unary +
    # stops SQLite from driving the query from the set instead (a lookup
    # and a sort of every match).
    return queryset.extra(
        where=[
            "+tickets_ticket.id IN (SELECT rowid FROM tickets_search WHERE tickets_search MATCH %s)"
        ],
        params=[fts5_query(terms, include_notes=include_notes)],
    )


def _pg_term(term: Term) -> tuple[str, list[str]]:
    """One term as a tsquery over the three configurations the index holds."""
    if term.phrase:
        return "phraseto_tsquery('simple', helpdesk_search_text(%s))", [term.text]
    sql_parts: list[str] = []
    params: list[str] = []
    words = _WORD.findall(term.text)
    for position, word in enumerate(words):
        if term.prefix and position == len(words) - 1:
            # Prefixes match the 'simple' (unstemmed) lexemes.
            sql_parts.append(
                "to_tsquery('simple', quote_literal(helpdesk_unaccent(lower(%s))) || ':*')"
            )
            params.append(word)
        else:
            sql_parts.append(
                "(plainto_tsquery('simple', helpdesk_unaccent(%s))"
                " || plainto_tsquery('portuguese', helpdesk_unaccent(%s))"
                " || plainto_tsquery('english', helpdesk_unaccent(%s)))"
            )
            params.extend([word, word, word])
    return "(" + " && ".join(sql_parts) + ")", params


def _pg_tsquery(terms: list[Term]) -> tuple[str, list[str]]:
    parts = [_pg_term(term) for term in terms]
    tsquery = "(" + " && ".join(sql for sql, _ in parts) + ")"
    return tsquery, [param for _, term_params in parts for param in term_params]


def _postgresql(
    queryset: QuerySet[Ticket], terms: list[Term], *, include_notes: bool
) -> QuerySet[Ticket]:
    tsquery, params = _pg_tsquery(terms)
    notes = "true" if include_notes else "false"
    # Vectors are only ever tested through these functions, which read them by
    # their GIN indexes (see migration 0005_search_pg_fast). The SQL is built
    # from constants only; every piece of user text is a bound parameter.
    return queryset.extra(  # noqa: S610
        where=[f"tickets_ticket.id IN (SELECT tickets_search_match({tsquery}, {notes}))"],
        params=params,
        # Relevance: the reference or subject matches (1) or only the thread (0).
        select={
            "search_rank": f"(tickets_ticket.id IN (SELECT tickets_search_head_match({tsquery})))"
        },
        select_params=params,
        order_by=["-search_rank", "-updated_at"],
    )


def _postgresql_filter(
    queryset: QuerySet[Ticket], terms: list[Term], *, include_notes: bool
) -> QuerySet[Ticket]:
    tsquery, params = _pg_tsquery(terms)
    vector = "all_doc" if include_notes else "public_doc"
    # Per ticket, one primary-key probe of its search row: with a common word
    # the newest-first walk finds a page of matches after a few dozen probes,
    # where collecting every match first would read thousands of rows. The
    # SQL is built from constants only; user text is in bound parameters.
    exists = (
        "EXISTS (SELECT 1 FROM tickets_search"  # noqa: S608 - constants only, see above
        " WHERE tickets_search.ticket_id = tickets_ticket.id"
        f" AND tickets_search.{vector} @@ {tsquery})"
    )
    return queryset.extra(  # noqa: S610
        where=[exists],
        params=params,
    )


def _fallback(queryset: QuerySet[Ticket], text: str, *, include_notes: bool) -> QuerySet[Ticket]:
    """Other databases: a plain (slow) LIKE search with the same visibility rule."""
    text = " ".join(text.split())
    kinds = [Message.Kind.REPLY, Message.Kind.NOTE] if include_notes else [Message.Kind.REPLY]
    in_body = Message.objects.filter(ticket=OuterRef("pk"), kind__in=kinds, body__icontains=text)
    return queryset.filter(Q(reference__iexact=text) | Q(subject__icontains=text) | Exists(in_body))
