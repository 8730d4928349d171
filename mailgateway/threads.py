"""Which ticket a mail belongs to, and whether its sender may write there.

Keys, strongest first: the signed reply token in a recipient address; the
In-Reply-To/References ids against the Message-ID map; the HD-YYYY-NNNN tag
in the subject. The subject tag is guessable, so it (like any key but a
token addressed to the sender) attaches a mail only when the sender takes
part in the ticket (osTicket PR #748, test A3); otherwise the mail opens a new
ticket linked to the one it named. A key naming a ticket merged into
another leads to the survivor, and the participant check is the survivor's
(tickets.services.ticket_merge made the merged requester a CC). Staff count
as staff only when the mail proves it: their own reply token, or DMARC pass
in the topmost Authentication-Results written by our own MTA (RFC 8601 §5:
headers with our authserv-id further down, or from anyone else, are forged
or foreign).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from mailgateway import verdicts
from mailgateway.parse import InboundEmail
from outbound.models import OutboxItem, reply_is_internal
from outbound.tokens import ReplyToken, parse_reply_address
from tickets import access
from tickets.models import Message, Ticket
from tickets.references import parse_reference
from tickets.selectors import ticket_by_message_ids, ticket_survivor
from tickets.services import is_participant
from tickets.states import Status


@dataclass
class Verdict:
    rule: str = "new"  # token, message-id, subject, new
    ticket: Ticket | None = None
    linked_to: Ticket | None = None
    reopen: bool = False
    staff: bool = False  # an authenticated agent writing to the ticket
    # The sender is staff and proved it (their own token, or DMARC pass); a
    # staff address that did not is held, never taken for a customer.
    verified_staff: bool = False
    # An agent answering a staff-only notice: the answer is an internal note.
    internal_reply: bool = False
    authenticated_by: str = ""  # token, dmarc
    # The outside address (a supplier) whose answer to a forward this is,
    # proved by the forward's token: filed as an internal note, nothing more.
    supplier: str = ""
    dmarc: str = "none"
    candidates: list[dict[str, Any]] = field(default_factory=list)

    def reject(
        self, rule: str, ticket: Ticket | None, reason: str, *, reference: str | None = None
    ) -> None:
        """reason: one of mailgateway.verdicts' codes (staff read it translated);
        reference: the ticket named when there is no such ticket."""
        self.candidates.append(
            {
                "rule": rule,
                "ticket": ticket.reference if ticket else reference,
                "reason": reason,
            }
        )
        if ticket is not None and self.linked_to is None:
            self.linked_to = ticket

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "ticket": self.ticket.reference if self.ticket else None,
            "linked_to": self.linked_to.reference if self.linked_to else None,
            "reopen": self.reopen,
            "staff": self.staff,
            "verified_staff": self.verified_staff,
            "internal_reply": self.internal_reply,
            "authenticated_by": self.authenticated_by,
            "supplier": self.supplier,
            "dmarc": self.dmarc,
            "candidates": self.candidates,
        }


def dmarc_result(mail: InboundEmail) -> str:
    """pass/fail/none from the topmost Authentication-Results, if our MTA wrote it."""
    authserv_id = getattr(settings, "HELPDESK_AUTHSERV_ID", "").strip().lower()
    results = mail.headers.get("authentication-results", ())
    if not authserv_id or not results:
        return "none"
    top = results[0]
    head, _, rest = top.partition(";")
    if head.strip().split(" ")[0].lower() != authserv_id:
        return "none"
    for clause in rest.split(";"):
        words = clause.strip().lower().split()
        if words and words[0].startswith("dmarc="):
            verdict = words[0].removeprefix("dmarc=")
            if verdict == "pass":
                # The policy domain must be the From domain we act on.
                domain = mail.sender.rpartition("@")[2]
                origin = [w for w in words if w.startswith("header.from=")]
                if origin and origin[0].removeprefix("header.from=") != domain:
                    return "fail"
                return "pass"
            return "fail"
    return "none"


def _sender_user(email: str) -> Any:
    if not email:
        return None
    return get_user_model().objects.filter(email=email.lower()).first()


def answers_staff_notice(mail: InboundEmail) -> bool:
    """Whether the mail answers one of our staff-only notices (by In-Reply-To:
    for agents proved by DMARC, whose reply may not go to the notice's token)."""
    ids = [i.strip().strip("<>") for i in mail.in_reply_to if i.strip()]
    if not ids:
        return False
    events = OutboxItem.objects.filter(message_id__in=ids).values_list("event", flat=True)
    return any(reply_is_internal(event) for event in events)


_UNSET: Any = object()


def _supplier_answer(verdict: Verdict, ticket: Ticket, entry_id: int, *, is_staff: bool) -> bool:
    """The mail answers a forward (its token): the only way an outside
    party's mail joins a ticket as theirs, always as an internal note, whatever
    the ticket's status (their answer reopens nothing)."""
    forwarded_to = (
        Message.objects.filter(pk=entry_id, ticket=ticket)
        .exclude(forwarded_to="")
        .values_list("forwarded_to", flat=True)
        .first()
    )
    if forwarded_to is None:
        verdict.reject("token", ticket, verdicts.FORWARD_GONE)
        return False
    if is_staff:  # staff write with their own tokens; this one is not theirs
        verdict.reject("token", ticket, verdicts.FORWARD_BY_STAFF)
        return False
    if verdict.dmarc == "fail":
        verdict.reject("token", ticket, verdicts.DMARC_FAIL)
        return False
    verdict.rule = "token"
    verdict.ticket = ticket
    verdict.supplier = forwarded_to
    verdict.internal_reply = True
    verdict.authenticated_by = "token"
    return True


def find_thread(
    mail: InboundEmail,
    *,
    envelope_rcpts: tuple[str, ...] = (),
    user: Any = _UNSET,
    vouched: bool = False,
) -> Verdict:
    """user: the sender's account if the caller looked it up already (None = no
    account); vouched: an admin released the mail as its staff sender's own."""
    verdict = Verdict(dmarc=dmarc_result(mail))
    sender = mail.sender
    if user is _UNSET:
        user = _sender_user(sender)
    is_staff = access.is_staff(user)

    proved = "admin" if vouched else "dmarc" if verdict.dmarc == "pass" else ""
    verdict.verified_staff = is_staff and bool(proved)

    def may_attach(rule: str, ticket: Ticket, token: ReplyToken | None = None) -> bool:
        if token is not None and user is not None and token.user_id == user.pk:
            verdict.staff = is_staff
            verdict.verified_staff = is_staff
            verdict.internal_reply = is_staff and token.internal
            verdict.authenticated_by = "token"
            return True
        if is_staff:
            if proved:
                verdict.staff = True
                verdict.authenticated_by = proved
                verdict.internal_reply = answers_staff_notice(mail)
                return True
            verdict.reject(rule, ticket, verdicts.AGENT_UNPROVEN)
            return False
        if verdict.dmarc == "fail":
            verdict.reject(rule, ticket, verdicts.DMARC_FAIL)
            return False
        if sender and is_participant(ticket, sender):
            if verdict.dmarc == "pass":
                verdict.authenticated_by = "dmarc"
            return True
        verdict.reject(rule, ticket, verdicts.NOT_PARTICIPANT)
        return False

    found: tuple[str, Ticket] | None = None
    for address in dict.fromkeys((*envelope_rcpts, *mail.recipients())):
        token = parse_reply_address(address)
        if token is None:
            continue
        ticket = Ticket.objects.filter(pk=token.ticket_id).select_related("created_by").first()
        if ticket is not None:  # a merged ticket's mail goes to the survivor
            ticket = ticket_survivor(ticket)
        if ticket is None:
            verdict.reject("token", None, verdicts.TICKET_GONE)
        elif token.entry_id is not None:
            if _supplier_answer(verdict, ticket, token.entry_id, is_staff=is_staff):
                return verdict
        elif may_attach("token", ticket, token):
            found = ("token", ticket)
            break
    if found is None:
        ids = [*mail.in_reply_to, *reversed(mail.references)]
        ticket = ticket_by_message_ids(ids) if ids else None
        if ticket is not None:
            ticket = ticket_survivor(ticket)
        if ticket is not None and may_attach("message-id", ticket):
            found = ("message-id", ticket)
    if found is None:
        reference = parse_reference(mail.subject)
        ticket = (
            Ticket.objects.filter(reference=reference).select_related("created_by").first()
            if reference
            else None
        )
        if ticket is not None:
            ticket = ticket_survivor(ticket)
        if reference and ticket is None:
            verdict.reject("subject", None, verdicts.NO_SUCH_REFERENCE, reference=reference)
        if ticket is not None and may_attach("subject", ticket):
            found = ("subject", ticket)
    if found is None:
        verdict.staff = False  # staff rights only on a ticket they proved access to
        return verdict

    rule, ticket = found
    if ticket.status == Status.CLOSED:
        window = timedelta(days=settings.HELPDESK_REOPEN_WINDOW_DAYS)
        if ticket.closed_at is not None and ticket.closed_at < timezone.now() - window:
            verdict.reject(rule, ticket, verdicts.REOPEN_WINDOW)
            verdict.linked_to = ticket
            verdict.staff = False
            return verdict
        verdict.reopen = True
    verdict.rule = rule
    verdict.ticket = ticket
    return verdict
