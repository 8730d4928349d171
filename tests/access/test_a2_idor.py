"""A2 (issue 16): an IDOR sweep over every id and reference in every URL.

The routes come from the root URLconf: every pattern that takes a kwarg (an
id, a pk, a reference, a token) must have a row in SWEEP (or be an admin
object route, or be listed in NOT_OBJECTS with the reason), or
test_it_knows_every_route_with_an_id fails and says what to add.

The world (tests/access/world.py) holds two customers, agents of two teams
(who see only their teams' tickets), a manager, an admin and objects of every
kind. A probe is (actor, route, an object the actor may not reach); it is
sent with every method (web: GET and POST; API: GET, POST, PATCH, PUT,
DELETE), POSTs with a valid CSRF token, and must answer exactly as the same
request does with a nonexistent id in the foreign one's place: same status,
same Location, same messages, same body (but for the per-request CSP nonce
and CSRF mask). Mixed probes keep the actor's own part: (own ticket, foreign
message), (own ticket, move to a foreign ticket). References next to the
real ones (HD-YYYY-NNNN +/- 1, lower case) are swept too. Every table's rows
are checksummed around each batch of 10 routes: nothing may change. And a
foreign id must cost what a missing one does (the "timing class", for a
route of each kind).

Light (CI): each route with each kind of object it takes, once for a
customer, an agent and the manager or admin, seeded. Heavy: 1,000 random
probes.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from helpdesk.feedback import make_feedback_token
from helpdesk.verification import make_token
from tests.access.timing import same_class, stats
from tests.access.world import (
    ACTORS,
    World,
    build_world,
    changed_tables,
    normalized,
    reachable,
    table_checksums,
)
from tests.api.test_permission_matrix import EXPECTED as API_TABLE
from tests.helpdesk.test_authorization_matrix import EXPECTED as WEB_TABLE
from tickets import access
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

WEB_METHODS = ("GET", "POST")
API_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
MISSING_PK = 987654
MISSING_TOKEN = "not-a-token"
CHECKSUM_EVERY = 10  # routes
MESSAGE_KINDS = ("message", "note", "html_message")
ATTACHMENT_KINDS = ("attachment", "note_attachment", "image", "eml")


@dataclass(frozen=True)
class Row:
    """A route's kwargs from an object of one of kinds (own: a ticket the
    actor may see, for the mixed probes)."""

    kinds: tuple[str, ...]
    kwargs: Callable[[Any], dict[str, Any]]
    missing: dict[str, Any]


def by_reference(obj: Any) -> dict[str, Any]:
    return {"reference": obj.reference}


def by_pk(obj: Any) -> dict[str, Any]:
    return {"pk": obj.pk}


def by_message(obj: Any) -> dict[str, Any]:
    return {"reference": obj.ticket.reference, "pk": obj.pk}


TICKET = Row(("ticket",), by_reference, {"reference": "HD-2026-9999"})
MESSAGE = Row(MESSAGE_KINDS, by_message, {"reference": "HD-2026-9999", "pk": MISSING_PK})
ATTACHMENT = Row(ATTACHMENT_KINDS, by_pk, {"pk": MISSING_PK})

TICKET_ROUTES = [
    "ticket_detail",
    "ticket_thread",
    "ticket_live",
    "ticket_reply",
    "ticket_forward",
    "ticket_take",
    "ticket_merge",
    "ticket_tags",
    "ticket_transfer",
    "ticket_properties",
    "ticket_notifications_seen",
    "ticket_presence",
    "ticket_presence_leave",
    "ticket_draft",
    "ticket_confirm",
    "ticket_reopen",
    "ticket_rate",
    "api:ticket-detail",
    "api:ticket-messages",
]

# route name -> what its kwargs name
SWEEP: dict[str, Row] = {
    **dict.fromkeys(TICKET_ROUTES, TICKET),
    "message_move": MESSAGE,
    "message_split": MESSAGE,
    "message_html": MESSAGE,
    "attachment_download": ATTACHMENT,
    "attachment_inline": ATTACHMENT,
    "attachment_message": ATTACHMENT,
    "attachment_part": Row(
        ATTACHMENT_KINDS, lambda o: {"pk": o.pk, "index": 0}, {"pk": MISSING_PK, "index": 0}
    ),
    "saved_view_delete": Row(("saved_view",), by_pk, {"pk": MISSING_PK}),
    "canned_delete": Row(("canned",), by_pk, {"pk": MISSING_PK}),
    "notification_open": Row(("notification",), by_pk, {"pk": MISSING_PK}),
    # Signed tokens: forged ones (see token_probes) must look like garbage.
    "verify_email": Row(("verify_token",), lambda t: {"token": t}, {"token": MISSING_TOKEN}),
    "ticket_feedback": Row(("feedback_token",), lambda t: {"token": t}, {"token": MISSING_TOKEN}),
    "password_reset_confirm": Row(
        ("reset_link",), lambda pair: dict(pair), {"uidb64": "OTk5OTk5", "token": "set-password"}
    ),
    # The admin's own object routes beside the per-model ones (admin_model_of).
    "admin:auth_user_password_change": Row(
        ("admin:helpdesk.user",), lambda o: {"id": o.pk}, {"id": MISSING_PK}
    ),
    "admin:mailgateway_inboundmessage_raw": Row(
        ("admin:mailgateway.inboundmessage",), by_pk, {"pk": MISSING_PK}
    ),
    "admin:outbound_emailtemplate_preview": Row(
        ("admin:outbound.emailtemplate",), by_pk, {"pk": MISSING_PK}
    ),
    "admin:outbound_emailtemplate_preview_html": Row(
        ("admin:outbound.emailtemplate",), by_pk, {"pk": MISSING_PK}
    ),
    # "View on site": any admin object through its content type.
    "admin:view_on_site": Row(
        ("admin:*",),
        lambda o: {
            "content_type_id": ContentType.objects.get_for_model(o).pk,
            "object_id": o.pk,
        },
        {"content_type_id": "TYPE", "object_id": MISSING_PK},
    ),
}
# Routes with kwargs that name no object.
NOT_OBJECTS = {
    "admin:app_list": "an app label from a fixed list",
    "admin/(?P<url>.*)$": "the admin's catch-all (a 404 or a redirect to the login)",
}
# Ids in POSTed forms: (route, field) -> the kind it names.
BODY_IDS = {
    ("api_tokens", "revoke"): "token",
    ("ticket_bulk", "tickets"): "ticket",
    ("ticket_merge", "merge-into"): "ticket",
    ("message_move", "to"): "ticket",
}
ADMIN_OBJECT_ROUTE = re.compile(
    r"^admin/(?P<app>\w+)/(?P<model>\w+)/<path:object_id>/(change/|delete/|history/)?$"
)


@dataclass(frozen=True)
class Route:
    key: str  # the name (with its namespace), or the pattern for an unnamed one
    pattern: str  # the full route, e.g. tickets/<str:reference>/
    kwargs: tuple[str, ...]


def _walk(resolver: URLResolver, prefix: str = "", ns: str = "") -> Iterator[Route]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = ns + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _walk(entry, prefix + str(entry.pattern), namespace)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            names = re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)
            kwargs = tuple(a or b for a, b in names)
            if kwargs:
                key = ns + entry.name if entry.name else route
                yield Route(key, route, kwargs)


def routes_with_ids() -> list[Route]:
    return list(_walk(get_resolver()))


def admin_model_of(route: Route) -> type[Model] | None:
    found = ADMIN_OBJECT_ROUTE.match(route.pattern)
    if not found:
        return None
    return apps.get_model(found["app"], found["model"])


def test_it_knows_every_route_with_an_id() -> None:
    unknown = [
        f"{r.key} ({r.pattern}, kwargs {', '.join(r.kwargs)})"
        for r in routes_with_ids()
        if r.key not in SWEEP and r.key not in NOT_OBJECTS and admin_model_of(r) is None
    ]
    assert not unknown, (
        "Routes that name an object but are not in the IDOR sweep: "
        + "; ".join(unknown)
        + ". Add a row to SWEEP in tests/access/test_a2_idor.py saying what kind of "
        "object the kwargs name (and add one such object to tests/access/world.py)."
    )
    stale = set(SWEEP) - {r.key for r in routes_with_ids()}
    assert not stale, f"SWEEP names routes that are gone: {stale}"


# --- The probes -----------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    actor: str
    route: Route
    kwargs: tuple[tuple[str, Any], ...]
    missing: tuple[tuple[str, Any], ...]  # the same with the foreign part missing
    kind: str
    data: tuple[tuple[str, str], ...] = ()  # POSTed form (body ids)
    missing_data: tuple[tuple[str, str], ...] = ()


def url_of(route: Route, kwargs: dict[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        return quote(str(kwargs[match.group(1)]), safe="")

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route.pattern)


def admin_objects() -> dict[str, list[Model]]:
    """'admin:<app>.<model>' -> its rows, for every model the admin shows."""
    found = {}
    for model in admin.site._registry:
        rows = list(model._default_manager.order_by("pk")[:3])
        assert rows, (
            f"The world has no {model._meta.label} row for the admin routes: "
            "add one in tests/access/world.py (_admin_rows)"
        )
        found[f"admin:{model._meta.label_lower}"] = rows
    return found


def admin_reachable(user: Any, kind: str, obj: Any) -> bool:
    """What the admin may show user: the model's permission, and for a ticket's
    rows the ticket's access policy."""
    model = type(obj)
    label = model._meta
    if not (
        user.has_perm(f"{label.app_label}.view_{label.model_name}")
        or user.has_perm(f"{label.app_label}.change_{label.model_name}")
    ):
        return False
    ticket = obj if label.label_lower == "tickets.ticket" else getattr(obj, "ticket", None)
    return ticket is None or access.can_view(user, ticket)


def absent_id(model: type[Model]) -> Any:
    uuid = model._meta.pk.get_internal_type() == "UUIDField"  # type: ignore[union-attr]
    return "00000000-0000-4000-8000-000000000000" if uuid else MISSING_PK


def kinds_of(world: World) -> dict[str, list[Any]]:
    kinds: dict[str, list[Any]] = dict(world.objects)
    kinds.update(admin_objects())
    return kinds


def may_reach(world: World, actor: str, kind: str, obj: Any) -> bool:
    user = world.users[actor]
    if kind.startswith("admin:"):
        return admin_reachable(user, kind, obj)
    if kind in {"verify_token", "feedback_token", "reset_link"}:
        return False  # forged: nobody's
    return reachable(user, kind, obj)


def token_probes(world: World) -> dict[str, list[Any]]:
    """Forged tokens and links, each for someone else's object."""
    a, b = world.users["customer_a"], world.users["customer_b"]
    ticket_a, ticket_b = world.tickets["a"], world.tickets["b"]
    real = make_token(b)
    feedback = make_feedback_token(ticket_id=ticket_a.pk, user_id=a.pk, action="rate")
    return {
        # A link whose signature does not match, another's with a bit flipped.
        "verify_token": [real[:-1] + ("A" if real[-1] != "A" else "B"), real.swapcase()],
        # Signed right, but for a ticket the person did not open; or tampered.
        "feedback_token": [
            make_feedback_token(ticket_id=ticket_b.pk, user_id=a.pk, action="rate"),
            feedback[:-2] + feedback[-1] + feedback[-2],
        ],
        # A real account's uid with a token that is not its own.
        "reset_link": [
            (("uidb64", urlsafe_base64_encode(force_bytes(b.pk))), ("token", "set-password")),
            (
                ("uidb64", urlsafe_base64_encode(force_bytes(b.pk))),
                ("token", default_token_generator.make_token(a)),
            ),
        ],
    }


def near_references(world: World) -> list[str]:
    """HD-YYYY-NNNN around the real ones, and the real ones in lower case."""
    refs = [t.reference for t in world.tickets.values()]
    near = set()
    for ref in refs:
        _hd, year, number = ref.split("-")
        for delta in (-1, 1, 2, 1000):
            candidate = f"HD-{year}-{int(number) + delta:04d}"
            if candidate not in refs:
                near.add(candidate)
    return sorted(near)


def all_probes(world: World) -> list[Probe]:
    kinds = kinds_of(world)
    kinds.update(token_probes(world))
    probes = []
    for route in routes_with_ids():
        row = SWEEP.get(route.key)
        if row is None and (model := admin_model_of(route)) is not None:
            kind = f"admin:{model._meta.label_lower}"
            row = Row((kind,), lambda o: {"object_id": o.pk}, {"object_id": absent_id(model)})
        if row is None:
            continue
        row_kinds = (
            [k for k in kinds if k.startswith("admin:")] if row.kinds == ("admin:*",) else row.kinds
        )
        for actor in ACTORS:
            for kind in row_kinds:
                for obj in kinds[kind]:
                    if may_reach(world, actor, kind, obj):
                        continue
                    kwargs = row.kwargs(obj)
                    missing = dict(row.missing)
                    if missing.get("content_type_id") == "TYPE":
                        missing["content_type_id"] = kwargs["content_type_id"]
                        missing["object_id"] = absent_id(type(obj))
                    probes.append(Probe(actor, route, _t(kwargs), _t(missing), kind))
                    if kind in MESSAGE_KINDS:
                        # The actor's own ticket with a foreign message.
                        for own in world.tickets.values():
                            if access.can_view(world.users[actor], own):
                                mixed = {**kwargs, "reference": own.reference}
                                kept = {**missing, "reference": own.reference}
                                probes.append(Probe(actor, route, _t(mixed), _t(kept), kind))
            if row is TICKET:
                for ref in near_references(world):
                    probes.append(
                        Probe(actor, route, _t({"reference": ref}), _t(row.missing), "near_ref")
                    )
                for ticket in world.tickets.values():
                    if not access.can_view(world.users[actor], ticket):
                        lower = {"reference": ticket.reference.lower()}
                        probes.append(Probe(actor, route, _t(lower), _t(row.missing), "lower_ref"))
    probes += body_id_probes(world)
    return probes


def body_id_probes(world: World) -> list[Probe]:
    routes = {r.key: r for r in routes_with_ids()}
    probes = []
    for (name, field), kind in BODY_IDS.items():
        for actor in ACTORS:
            user = world.users[actor]
            own = [t for t in world.tickets.values() if access.can_view(user, t)]
            for obj in world.objects[kind]:
                if reachable(user, kind, obj):
                    continue
                foreign = str(obj.reference if isinstance(obj, Ticket) else obj.pk)
                missing = "HD-2026-9999" if kind == "ticket" else str(MISSING_PK)
                base: dict[str, str] = (
                    {"action": "priority", "priority": "high"} if name == "ticket_bulk" else {}
                )
                if name == "message_move":
                    for ticket in own:
                        message = ticket.messages.exclude(kind="event").first()
                        assert message is not None
                        kwargs = {"reference": ticket.reference, "pk": message.pk}
                        probes.append(
                            Probe(
                                actor,
                                routes[name],
                                _t(kwargs),
                                _t(kwargs),
                                f"body:{kind}",
                                _t({field: foreign}),
                                _t({field: missing}),
                            )
                        )
                    continue
                route = routes.get(name) or Route(name, _path_of(name), ())
                targets = [{"reference": t.reference} for t in own] if route.kwargs else [{}]
                for target in targets:
                    probes.append(
                        Probe(
                            actor,
                            route,
                            _t(target),
                            _t(target),
                            f"body:{kind}",
                            _t({**base, field: foreign}),
                            _t({**base, field: missing}),
                        )
                    )
    return probes


def _path_of(name: str) -> str:
    from django.urls import reverse

    return reverse(name).lstrip("/")


def _t(values: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(values.items()))


# --- Sending and comparing ----------------------------------------------------------


@dataclass
class Answer:
    status: int
    location: str
    messages: list[str]
    body: bytes


def answer(client: Client, method: str, url: str, data: dict[str, Any], *, api: bool) -> Answer:
    # Only what this request says: the client follows no redirect, so the
    # flash messages of earlier answers would pile up in their cookie.
    client.cookies.pop("messages", None)
    if api:
        import json

        response = client.generic(
            method, url, data=json.dumps(data) if data else "", content_type="application/json"
        )
    elif method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data)
    if getattr(response, "streaming", False):
        body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        body = response.content
    request = getattr(response, "wsgi_request", None)
    notes = [str(m) for m in get_messages(request)] if request is not None else []
    return Answer(response.status_code, response.get("Location", ""), notes, normalized(body))


def masked(item: Answer, secrets: list[str]) -> Answer:
    """The answer with the ids the request named replaced by a placeholder:
    a login redirect's ?next= or a "no ticket X" message echoes what was
    asked, which is no leak."""

    def hide(text: str, shortest: int = 1) -> str:
        for secret in sorted(secrets, key=len, reverse=True):
            for form in {secret, quote(secret, safe="")}:
                if len(form) >= shortest:
                    text = re.sub(rf"(?<![\w-]){re.escape(form)}(?![\w-])", "{ID}", text)
        return text

    # In a page, only what cannot be mistaken for any number on it: a path,
    # a reference, a token.
    body = hide(item.body.decode("utf-8", "replace"), shortest=8)
    return Answer(item.status, hide(item.location), [hide(m) for m in item.messages], body.encode())


def form_for(probe: Probe, method: str) -> dict[str, Any]:
    key = probe.route.key
    if probe.data:
        return {}
    if key.startswith("api:"):
        api_row = API_TABLE.get((key, method))
        return dict(api_row[0]) if api_row else {}
    if method == "POST" and key.endswith("_delete"):
        return {"post": "yes"}  # the admin's "Yes, I'm sure"
    row = WEB_TABLE.get(key)
    if row and row[0] == method:
        return {k: v for k, v in row[2].items() if v != "$ref"}
    return {"body": "x", "comment": "x"} if method == "POST" else {}


def run_sweep(world: World, probes: list[Probe]) -> dict[str, Any]:
    clients = {actor: world.client(actor, csrf=True) for actor in ACTORS}
    baselines: dict[tuple[Any, ...], Answer] = {}
    leaks: list[str] = []
    leaked = 0
    changed: list[str] = []
    sent = Counter[str]()
    statuses = Counter[int]()
    by_route: dict[str, list[Probe]] = {}
    for probe in probes:
        by_route.setdefault(probe.route.key, []).append(probe)
    # Checksumming every table costs a query each (tens of ms on
    # PostgreSQL): once per batch of routes, which the message then names.
    before, batch = table_checksums(), []
    for index, (key, route_probes) in enumerate(by_route.items()):
        batch.append(key)
        for probe in route_probes:
            api = key.startswith("api:")
            methods = ("POST",) if probe.data else (API_METHODS if api else WEB_METHODS)
            for method in methods:
                form = form_for(probe, method)
                url = url_of(probe.route, dict(probe.kwargs))
                missing_url = url_of(probe.route, dict(probe.missing))
                client = clients[probe.actor]
                base_key = (probe.actor, key, method, probe.missing, probe.missing_data)
                if base_key not in baselines:
                    baselines[base_key] = answer(
                        client, method, missing_url, {**form, **dict(probe.missing_data)}, api=api
                    )
                got = answer(client, method, url, {**form, **dict(probe.data)}, api=api)
                secrets = [url, missing_url, unquote(url), unquote(missing_url)]
                secrets += [str(v) for _k, v in probe.kwargs]
                secrets += [str(v) for _k, v in probe.missing + probe.data + probe.missing_data]
                want = masked(baselines[base_key], secrets)
                seen = masked(got, secrets)
                sent[method] += 1
                statuses[got.status] += 1
                if seen != want and not any(line.startswith(f"{key} ") for line in leaks):
                    leaks.append(
                        f"{key} "
                        f"{method} {url} {dict(probe.data) or ''} as {probe.actor} ({probe.kind}): "
                        f"{got.status} {got.location} {got.messages} vs missing "
                        f"{want.status} {want.location} {want.messages}"
                    )
                leaked += seen != want
        if len(batch) == CHECKSUM_EVERY or index == len(by_route) - 1:
            after = table_checksums()
            if after != before:
                changed.append(f"one of {batch} changed {changed_tables(before, after)}")
            before, batch = after, []
    return {
        "routes": len(by_route),
        "requests": sum(sent.values()),
        "by_method": dict(sent),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "leaks": leaks,
        "leaked": leaked,
        "changed": changed,
    }


def choose(probes: list[Probe], heavy: bool, seed: int) -> list[Probe]:
    rng = random.Random(seed)
    if heavy:
        return rng.sample(probes, min(1000, len(probes)))
    # Light: each route with each kind of object it takes (and each body id),
    # once for a customer, once for an agent, once for the manager or admin.
    groups: dict[tuple[str, str, str], list[Probe]] = {}
    for probe in probes:
        role = probe.actor.split("_")[0].replace("admin", "manager")
        groups.setdefault((probe.route.key, probe.kind, role), []).append(probe)
    return [rng.choice(group) for _key, group in sorted(groups.items())]


def test_no_one_reaches_what_is_not_theirs(settings: Any, scale: Any, figures: Any) -> None:
    world = build_world(settings)
    probes = all_probes(world)
    chosen = choose(probes, scale.heavy, seed=16)
    result = run_sweep(world, chosen)
    figures(
        {
            "routes_with_ids": len(routes_with_ids()),
            "routes_swept": result["routes"],
            "kinds": len({p.kind for p in chosen}),
            "candidate_pairs": len(probes),
            "pairs_tried": len(chosen),
            "requests": result["requests"],
            "by_method": result["by_method"],
            "statuses": result["statuses"],
            "leaks": result["leaked"],
            "route_batches_that_changed_rows": len(result["changed"]),
        }
    )
    assert not result["leaks"], (
        f"{result['leaked']} foreign objects answer unlike missing ones "
        "(the first of each route):\n" + "\n".join(result["leaks"])
    )
    assert not result["changed"], "probes changed rows:\n" + "\n".join(result["changed"])
    swept = {p.route.key for p in chosen}
    assert swept >= {r.key for r in routes_with_ids() if r.key not in NOT_OBJECTS} or scale.heavy


# (actor, route key, method): a foreign object against a missing one, timed.
TIMED = [
    ("customer_b", "ticket_detail", "GET"),
    ("customer_b", "attachment_download", "GET"),
    ("customer_b", "message_html", "GET"),
    ("customer_b", "notification_open", "POST"),
    ("agent_y", "api:ticket-detail", "GET"),
    ("agent_y", "admin:tickets_ticket_change", "GET"),
    ("agent_y", "admin:view_on_site", "GET"),
]


def test_foreign_and_missing_ids_take_the_same_time(
    settings: Any, scale: Any, figures: Any
) -> None:
    """The catalogue's "timing class" of A2: a foreign id costs what a missing
    one does (no lookup of the object before the check that refuses it).
    Alternated samples; medians no further apart than half the larger or
    20 ms, whichever is more."""
    world = build_world(settings)
    probes = {(p.actor, p.route.key): p for p in all_probes(world) if not p.data}
    clients = {actor: world.client(actor, csrf=True) for actor in ACTORS}
    results = {}
    for actor, key, method in TIMED:
        probe = probes[(actor, key)]
        api = key.startswith("api:")
        urls = {
            "foreign": url_of(probe.route, dict(probe.kwargs)),
            "missing": url_of(probe.route, dict(probe.missing)),
        }
        times: dict[str, list[float]] = {"foreign": [], "missing": []}
        for index in range(scale(15, 100) + 2):
            order = ["foreign", "missing"] if index % 2 == 0 else ["missing", "foreign"]
            for which in order:
                start = time.perf_counter()
                answer(clients[actor], method, urls[which], form_for(probe, method), api=api)
                if index >= 2:  # the first two rounds warm up
                    times[which].append(time.perf_counter() - start)
        results[f"{method} {key} as {actor}"] = {
            "foreign": stats(times["foreign"]),
            "missing": stats(times["missing"]),
            "same_class": same_class(times["foreign"], times["missing"], ratio=0.5, floor=0.020),
        }
    figures({"samples_each": scale(15, 100), "routes": results})
    slow = {name: r for name, r in results.items() if not r["same_class"]}
    assert not slow, slow
