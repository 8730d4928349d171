"""Fill a database fast with realistic helpdesk data for bench/web.py.

Rows go in with bulk SQL (executemany on SQLite, COPY on PostgreSQL) while
the search triggers are switched off; the search index is then built in one
pass, as the migration does for existing rows. Text is pt-BR and English,
generated from a few hundred words so the index has a realistic spread of
common and rare words.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

PT_THINGS = [
    "impressora",
    "notebook",
    "roteador",
    "boleto",
    "nota fiscal",
    "senha",
    "e-mail",
    "orçamento",
    "contrato",
    "pedido",
    "entrega",
    "fatura",
    "cartão",
    "aplicativo",
    "sistema",
    "relatório",
    "cadastro",
    "monitor",
    "teclado",
    "servidor",
    "certificado",
    "backup",
    "licença",
    "reembolso",
    "manutenção",
    "instalação",
    "atualização",
    "conexão",
    "VPN",
    "planilha",
    "agenda",
    "câmera",
    "celular",
    "token",
    "portal",
]
PT_PROBLEMS = [
    "não funciona",
    "não liga",
    "está lento",
    "deu erro",
    "parou de funcionar",
    "não imprime",
    "não chegou",
    "veio errado",
    "foi cobrado duas vezes",
    "expirou",
    "está travando",
    "não sincroniza",
    "não abre",
    "perdeu a configuração",
    "não conecta",
    "está com defeito",
    "precisa de revisão",
    "não aparece",
]
PT_SENTENCES = [
    "Bom dia, {thing} {problem} desde ontem.",
    "Olá, preciso de ajuda: {thing} {problem} depois da atualização.",
    "Já reiniciei o equipamento mas {thing} continua assim.",
    "Segue em anexo a foto do erro que aparece na tela.",
    "Vocês podem verificar com urgência? Estamos sem {thing} no escritório.",
    "O número do pedido é {number} e a nota fiscal foi emitida em {day}.",
    "Obrigado pelo retorno, vou testar e aviso.",
    "Conseguimos resolver, pode encerrar o chamado.",
    "Ainda não funcionou, o problema voltou hoje de manhã.",
    "Por favor, enviem um técnico até a filial de {city}.",
    "A cobrança de {money} reais não foi reconhecida pelo financeiro.",
    "Verifiquei o {thing} e encontrei uma falha na configuração.",
    "Estamos analisando o caso e retornamos em até 24 horas.",
    "Atenciosamente, equipe de suporte.",
    "Poderia confirmar se o {thing} está ligado na tomada?",
    "Substituímos a peça com defeito; o orçamento segue aprovado.",
    "A senha do portal foi redefinida, use o link enviado por e-mail.",
]
EN_THINGS = [
    "printer",
    "laptop",
    "router",
    "invoice",
    "password",
    "account",
    "subscription",
    "order",
    "delivery",
    "refund",
    "license",
    "dashboard",
    "report",
    "mailbox",
    "server",
    "certificate",
    "backup",
    "keyboard",
    "monitor",
    "phone",
    "app",
]
EN_PROBLEMS = [
    "is not working",
    "won't start",
    "is very slow",
    "shows an error",
    "stopped syncing",
    "was charged twice",
    "never arrived",
    "expired yesterday",
    "keeps crashing",
    "cannot connect",
    "is broken",
    "needs an update",
]
EN_SENTENCES = [
    "Hi, our {thing} {problem} since this morning.",
    "Hello team, the {thing} {problem} after the last update.",
    "I already restarted it but the {thing} still {problem}.",
    "Please find attached a screenshot of the error message.",
    "Could you look into this urgently? The whole office is blocked.",
    "The order number is {number}, invoiced on {day}.",
    "Thanks for the quick answer, I will try that and let you know.",
    "That fixed it, you can close the ticket.",
    "It happened again today, the issue is back.",
    "Please send a technician to the {city} office.",
    "We were billed {money} dollars and nobody here recognises the charge.",
    "I checked the {thing} and found a misconfiguration.",
    "We are looking into it and will get back to you within 24 hours.",
    "Kind regards, the support team.",
]
CITIES = [
    "São Paulo",
    "Campinas",
    "Curitiba",
    "Belo Horizonte",
    "Recife",
    "Porto Alegre",
    "Florianópolis",
    "Salvador",
    "Lisbon",
    "London",
    "Manaus",
    "Goiânia",
]
FIRST = [
    "Ana",
    "Bruno",
    "Carla",
    "Diego",
    "Eduarda",
    "Fábio",
    "Gabriela",
    "Heitor",
    "Íris",
    "João",
    "Larissa",
    "Marcos",
    "Natália",
    "Otávio",
    "Paula",
    "Rafael",
    "Sofia",
    "Tiago",
]
LAST = [
    "Silva",
    "Souza",
    "Oliveira",
    "Pereira",
    "Costa",
    "Rodrigues",
    "Almeida",
    "Nascimento",
    "Lima",
    "Araújo",
    "Fernandes",
    "Carvalho",
    "Gomes",
    "Martins",
    "Rocha",
    "Ribeiro",
]
STATUSES = ["open", "in_progress", "waiting_customer", "resolved", "closed"]
STATUS_WEIGHTS = [20, 15, 10, 15, 40]
PRIORITIES = ["low", "medium", "high", "urgent"]
PRIORITY_WEIGHTS = [25, 50, 20, 5]


@dataclass
class Sizes:
    tickets: int = 100_000
    messages: int = 500_000
    customers: int = 5_000
    agents: int = 12
    big_thread: int = 200  # messages on the one ticket whose page is measured


@dataclass
class Filled:
    agent_id: int
    big_reference: str
    team_id: int


class Text:
    """Seeded generator of subjects and bodies in pt-BR (70 %) or English."""

    def __init__(self, seed: int = 5) -> None:
        self.rng = random.Random(seed)

    def _fill(self, template: str, things: list[str], problems: list[str]) -> str:
        rng = self.rng
        return template.format(
            thing=rng.choice(things),
            problem=rng.choice(problems),
            number=rng.randint(10_000, 999_999),
            day=f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}",
            city=rng.choice(CITIES),
            money=rng.randint(20, 5_000),
        )

    def subject(self, portuguese: bool) -> str:
        rng = self.rng
        if portuguese:
            return f"{rng.choice(PT_THINGS).capitalize()} {rng.choice(PT_PROBLEMS)}"
        return f"{rng.choice(EN_THINGS).capitalize()} {rng.choice(EN_PROBLEMS)}"

    def body(self, portuguese: bool) -> str:
        rng = self.rng
        sentences, things, problems = (
            (PT_SENTENCES, PT_THINGS, PT_PROBLEMS)
            if portuguese
            else (EN_SENTENCES, EN_THINGS, EN_PROBLEMS)
        )
        count = rng.choice([1, 2, 2, 3, 3, 4, 5])
        return " ".join(self._fill(rng.choice(sentences), things, problems) for _ in range(count))


def _progress(label: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{label}: {done:,}/{total:,}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _db_datetime(value: datetime | None) -> Any:
    if value is None or connection.vendor != "sqlite":
        return value
    return connection.ops.adapt_datetimefield_value(value)


def _defaults(table: str, columns: list[str]) -> tuple[list[str], tuple[Any, ...]]:
    """The NOT NULL columns of table's model that columns leaves out, with the
    model's defaults: fields added since this fill was written still get a value."""
    from django.apps import apps
    from django.db import models
    from django.db.models.fields import NOT_PROVIDED

    model = next(m for m in apps.get_models() if m._meta.db_table == table)
    extra, values = [], []
    for f in model._meta.concrete_fields:
        if f.column in columns or f.null or f.primary_key or isinstance(f, models.GeneratedField):
            continue
        if f.default is NOT_PROVIDED and not f.empty_strings_allowed:
            continue  # no default to give: the fill must name the column
        extra.append(f.column)
        values.append(f.get_default())
    return extra, tuple(values)


def _insert(table: str, columns: list[str], rows: Iterator[tuple[Any, ...]], total: int) -> None:
    """Bulk insert: COPY on PostgreSQL, executemany in chunks on SQLite."""
    extra, defaults = _defaults(table, columns)
    if extra:
        columns = [*columns, *extra]
        rows = (row + defaults for row in rows)
    done = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    done += 1
                    if done % 20_000 == 0:
                        _progress(table, done, total)
        else:
            marks = ", ".join(["%s"] * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            chunk: list[tuple[Any, ...]] = []
            for row in rows:
                chunk.append(tuple(_db_datetime(v) if isinstance(v, datetime) else v for v in row))
                if len(chunk) == 10_000:
                    cursor.executemany(sql, chunk)
                    done += len(chunk)
                    chunk = []
                    _progress(table, done, total)
            if chunk:
                cursor.executemany(sql, chunk)
                done += len(chunk)
    _progress(table, done, total)


SEARCH_TRIGGERS = {
    "tickets_search_ticket_ins": "tickets_ticket",
    "tickets_search_message_ins": "tickets_message",
}


def search_triggers_off() -> list[str]:
    """Switch the insert triggers of the search index off; returns what restores them."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN (%s, %s)",
                list(SEARCH_TRIGGERS),
            )
            restore = [row[0] for row in cursor.fetchall()]
            for name in SEARCH_TRIGGERS:
                cursor.execute(f"DROP TRIGGER {name}")
            return restore
        for name, table in SEARCH_TRIGGERS.items():
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {name}")
        return [f"ALTER TABLE {t} ENABLE TRIGGER {n}" for n, t in SEARCH_TRIGGERS.items()]


def search_triggers_on(restore: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in restore:
            cursor.execute(statement)


def search_rebuild(ticket_ids: list[int] | None = None) -> None:
    """(Re)index tickets in one pass, the same documents the triggers build."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if ticket_ids is None:
                cursor.execute("TRUNCATE tickets_search")
                cursor.execute("SELECT count(tickets_search_rebuild(id)) FROM tickets_ticket")
            else:
                cursor.execute(
                    "SELECT count(tickets_search_rebuild(id)) FROM tickets_ticket"
                    " WHERE id = ANY(%s)",
                    [ticket_ids],
                )
            # What autovacuum does soon after a bulk load: statistics, and the
            # visibility map that lets index-only scans skip the heap.
            cursor.execute("VACUUM ANALYZE")
            return
        where = "" if ticket_ids is None else f"WHERE t.id IN ({','.join(map(str, ticket_ids))})"
        if ticket_ids is None:
            cursor.execute("DELETE FROM tickets_search")
        else:
            cursor.execute(
                "DELETE FROM tickets_search WHERE rowid IN"
                f" (SELECT id FROM tickets_ticket t {where})"
            )
        cursor.execute(
            "INSERT INTO tickets_search(rowid, reference, subject, public_body, note_body)"
            " SELECT t.id, t.reference, t.subject,"
            " coalesce((SELECT group_concat(body, char(10)) FROM tickets_message"
            "   WHERE ticket_id = t.id AND kind = 'reply'), ''),"
            " coalesce((SELECT group_concat(body, char(10)) FROM tickets_message"
            "   WHERE ticket_id = t.id AND kind = 'note'), '')"
            f" FROM tickets_ticket t {where}"
        )
        if ticket_ids is None:
            cursor.execute("INSERT INTO tickets_search(tickets_search) VALUES ('optimize')")
        cursor.execute("ANALYZE")


def fill(sizes: Sizes) -> Filled:
    """Users, teams, categories, tickets and messages; then the search index."""
    from helpdesk.accounts import user_create
    from helpdesk.roles import Role
    from tickets.models import Category, Message, ReferenceCounter, Team, Ticket
    from tickets.references import format_reference

    text = Text()
    rng = text.rng
    now = timezone.now()
    teams = [Team.objects.create(name=n) for n in ("Suporte", "Financeiro", "Infra", "Vendas")]
    categories = [
        Category.objects.create(name=name, default_team=teams[i % len(teams)])
        for i, name in enumerate(
            [
                "Dúvidas",
                "Hardware",
                "Software",
                "Cobrança",
                "Acesso",
                "Rede",
                "Entrega",
                "Contratos",
                "Billing",
                "Accounts",
                "Outros",
                "Instalação",
            ]
        )
    ]
    agents = []
    for number in range(sizes.agents):
        agent = user_create(
            email=f"agent{number}@support.example",
            full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            role=Role.AGENT,
        )
        teams[number % len(teams)].members.add(agent)
        agents.append(agent.pk)
    from helpdesk.models import User

    created_users = User.objects.bulk_create(
        [
            User(
                email=f"customer{i}@example.com.br",
                full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                role=Role.CUSTOMER,
                password="!",  # unusable: customers claim their account by "forgot password"
            )
            for i in range(sizes.customers)
        ],
        batch_size=1000,
    )
    customers = [u.pk for u in created_users] or list(
        User.objects.filter(role=Role.CUSTOMER).values_list("pk", flat=True)
    )
    year = now.year
    restore = search_triggers_off()
    start = now - timedelta(days=730)
    created = sorted(
        start + timedelta(seconds=rng.uniform(0, 730 * 86400)) for _ in range(sizes.tickets)
    )
    # Messages per ticket: the big thread, then about 5 for the others.
    rest = sizes.messages - sizes.big_thread
    counts = [1] * (sizes.tickets - 1)
    for _ in range(max(0, rest - len(counts))):
        counts[rng.randrange(len(counts))] += 1
    big_id = sizes.tickets  # the newest ticket carries the long thread
    counts.append(sizes.big_thread)
    languages = [rng.random() < 0.7 for _ in range(sizes.tickets)]
    updated = [
        min(now, c + timedelta(hours=rng.uniform(0.1, 24 * 20) * n))
        for c, n in zip(created, counts, strict=True)
    ]

    def ticket_rows() -> Iterator[tuple[Any, ...]]:
        for index in range(sizes.tickets):
            status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
            category = rng.choice(categories)
            assigned = rng.choice(agents) if rng.random() < 0.8 else None
            yield (
                index + 1,
                format_reference(year, index + 1),
                text.subject(languages[index]),
                status,
                rng.choices(PRIORITIES, PRIORITY_WEIGHTS)[0],
                category.pk,
                rng.choice(customers),
                assigned,
                category.default_team_id,
                rng.choice(["email", "email", "web"]),
                None,
                created[index],
                updated[index],
                created[index] + timedelta(hours=2) if assigned else None,
                updated[index] if status in {"resolved", "closed"} else None,
                updated[index] if status == "closed" else None,
            )

    with transaction.atomic():
        _insert(
            Ticket._meta.db_table,
            [
                "id",
                "reference",
                "subject",
                "status",
                "priority",
                "category_id",
                "created_by_id",
                "assigned_to_id",
                "team_id",
                "source",
                "linked_to_id",
                "created_at",
                "updated_at",
                "first_response_at",
                "resolved_at",
                "closed_at",
            ],
            ticket_rows(),
            sizes.tickets,
        )

    def message_rows() -> Iterator[tuple[Any, ...]]:
        for index, count in enumerate(counts):
            step = (updated[index] - created[index]) / max(count, 1)
            for position in range(count):
                kind = (
                    "reply"
                    if position == 0
                    else rng.choices(["reply", "note", "event"], [80, 15, 5])[0]
                )
                body = (
                    "Status alterado."
                    if kind == "event"
                    else text.body(languages[index] if rng.random() < 0.9 else not languages[index])
                )
                yield (
                    index + 1,
                    kind,
                    None,
                    "email",
                    "",
                    body,
                    "",
                    "",
                    False,
                    created[index] + step * position,
                )

    with transaction.atomic():
        _insert(
            Message._meta.db_table,
            [
                "ticket_id",
                "kind",
                "author_id",
                "source",
                "message_id",
                "body",
                "quoted",
                "body_html",
                "is_quiet",
                "created_at",
            ],
            message_rows(),
            sizes.messages,
        )
    ReferenceCounter.objects.update_or_create(year=year, defaults={"last": sizes.tickets})
    if connection.vendor == "postgresql":
        from django.core.management.color import no_style

        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Ticket, Message, User]):
                cursor.execute(statement)
    search_triggers_on(restore)
    if sys.stderr.isatty():
        sys.stderr.write("building the search index...\n")
    search_rebuild()
    return Filled(
        agent_id=agents[0],
        big_reference=format_reference(year, big_id),
        team_id=teams[0].pk,
    )


def fill_report_extras() -> None:
    """What the reports read besides tickets, unless there already: a status
    event for every resolution and close, a reopen on one resolved ticket in
    sixteen, and a 1-5 rating on a third of the closed tickets."""
    from helpdesk.models import SatisfactionRating
    from tickets.models import Ticket, TicketEvent

    if SatisfactionRating.objects.exists():
        return
    rng = random.Random(7)
    done = list(
        Ticket.objects.filter(status__in=["resolved", "closed"])
        .order_by("pk")
        .values_list("pk", "status", "resolved_at", "closed_at", "created_by_id")
    )

    def event_rows() -> Iterator[tuple[Any, ...]]:
        for pk, status, resolved_at, closed_at, _requester in done:
            if rng.random() < 1 / 16:
                earlier = resolved_at - timedelta(hours=rng.uniform(1, 48))
                yield (pk, "status", None, "open", "resolved", earlier)
                yield (pk, "status", None, "resolved", "open", earlier + timedelta(minutes=30))
            yield (pk, "status", None, "in_progress", "resolved", resolved_at)
            if status == "closed":
                yield (pk, "status", None, "resolved", "closed", closed_at)

    def rating_rows() -> Iterator[tuple[Any, ...]]:
        for pk, status, _resolved_at, closed_at, requester in done:
            if status == "closed" and rng.random() < 1 / 3:
                score = rng.choices([5, 4, 3, 2, 1], [50, 30, 10, 6, 4])[0]
                yield (pk, requester, score, "", closed_at + timedelta(hours=2))

    with transaction.atomic():
        _insert(
            TicketEvent._meta.db_table,
            ["ticket_id", "kind", "actor_id", "old_value", "new_value", "created_at"],
            event_rows(),
            len(done),
        )
        _insert(
            SatisfactionRating._meta.db_table,
            ["ticket_id", "user_id", "score", "comment", "created_at"],
            rating_rows(),
            len(done) // 3,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if connection.vendor == "sqlite" else "VACUUM ANALYZE")
