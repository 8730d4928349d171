"""The ticket domain: tickets, their threads, files, categories, teams, audit."""

from __future__ import annotations

import datetime
import uuid
import zoneinfo
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tickets.states import Priority, Status


class BusinessCalendar(models.Model):
    """When the SLA clock runs (tickets.calendar): working hours per weekday in
    a time zone, minus holidays. No working hours at all means every hour of
    every day that is not a holiday."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/Sao_Paulo")
    # The calendar of teams that name none (tickets.calendar.default_calendar).
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValidationError({"time_zone": _("Unknown time zone.")}) from exc


class WorkingHours(models.Model):
    """One working interval on a weekday; two make a day with a lunch break."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    # 00:00 means midnight at the end of the day.
    end = models.TimeField(_("until"), help_text=_("00:00 means midnight, the end of the day."))

    class Meta:
        ordering: ClassVar = ["weekday", "start"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        if None in (self.start, self.end):
            return
        if self.end != datetime.time(0) and self.end <= self.start:
            raise ValidationError({"end": _("The end must come after the start.")})


class Holiday(models.Model):
    """A day the calendar does not work (tickets.holidays preloads Brazil's)."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering: ClassVar = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


class Team(models.Model):
    class Assignment(models.TextChoices):
        MANUAL = "manual", _("Manual")
        ROUND_ROBIN = "round_robin", _("Round-robin")
        LEAST_OPEN = "least_open", _("Fewest active tickets")

    name = models.CharField(_("name"), max_length=100, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="teams", blank=True, verbose_name=_("members")
    )
    # Its SLA clock; None: the default calendar.
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="teams",
        verbose_name=_("business calendar"),
    )
    assignment = models.CharField(
        _("assignment"),
        max_length=16,
        choices=Assignment.choices,
        default=Assignment.MANUAL,
        help_text=_("How new tickets of the team find an agent (only available members)."),
    )
    # The member who took the last ticket (tickets.assignment): the rotation
    # lives in this row, locked while a ticket is assigned.
    rotation_cursor = models.PositiveIntegerField(_("rotation position"), default=0)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    default_team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("default team")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A label staff put on tickets; names are unique whatever their case."""

    name = models.CharField(_("name"), max_length=50)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints: ClassVar = [
            models.UniqueConstraint(Lower("name"), name="tag_name_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """Where a new ticket goes: evaluated in position order, first match wins
    (tickets.routing)."""

    class Match(models.TextChoices):
        ADDRESS = "address", _("Address the mail was sent to")
        MAILBOX = "mailbox", _("IMAP mailbox")
        SENDER_DOMAIN = "sender_domain", _("Sender's domain")
        SUBJECT = "subject", _("Word in the subject")
        CATEGORY = "category", _("Category chosen on the web form")

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    match = models.CharField(_("when"), max_length=16, choices=Match.choices)
    value = models.CharField(
        _("is"),
        max_length=255,
        help_text=_(
            "An address (* matches anything: *@vendas.example.com), a mailbox name, a "
            "domain (subdomains match too), a word or phrase, or a category name."
        ),
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("team")
    )
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("category")
    )
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, blank=True)

    class Meta:
        ordering: ClassVar = ["position", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return self.name


class CannedReply(models.Model):
    """A ready answer an agent drops into a reply (tickets.canned): personal
    (owner), for a team, or for everyone (neither)."""

    name = models.CharField(_("name"), max_length=100)
    body = models.TextField(
        _("text"),
        help_text=_(
            "Placeholders: {customer_name} (first name), {reference}, {subject}, "
            "{agent_name} (or {cliente}, {referencia}, {assunto}, {agente})."
        ),
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="canned_replies",
        verbose_name=_("personal, of"),
    )
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, null=True, blank=True, verbose_name=_("team")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["name", "id"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self) -> str:
        return self.name


class ReferenceCounter(models.Model):
    """The last reference number handed out per year (see tickets.references)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Source(models.TextChoices):
    WEB = "web", _("Web")
    EMAIL = "email", _("Email")
    API = "api", _("API")
    SYSTEM = "system", _("System")


def _rank_of(field: str, values: list[str]) -> models.Case:
    """The position of field's value in values (unknown values last)."""
    return models.Case(
        *[models.When(**{field: value}, then=models.Value(i)) for i, value in enumerate(values)],
        default=models.Value(len(values)),
        output_field=models.PositiveSmallIntegerField(),
    )


class Ticket(models.Model):
    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    subject = models.CharField(_("subject"), max_length=255)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN, editable=False
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.MEDIUM
    )
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("category")
    )
    # The requester: the customer the ticket is for.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="tickets_requested",
        verbose_name=_("requester"),
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets_assigned",
        verbose_name=_("assignee"),
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("team")
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    # How the ticket found its team (tickets.routing): the rule, the
    # category's team or the default team, in words an admin recognises.
    routed_by = models.CharField(_("routed by"), max_length=200, blank=True)
    # A ticket opened by a mail that named another ticket it could not join.
    linked_to = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="linked_from",
        verbose_name=_("linked ticket"),
    )
    # A duplicate merged into another ticket (tickets.services.ticket_merge):
    # closed, its thread, files and Message-IDs moved to the survivor, where
    # mail naming it still goes.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_from",
        verbose_name=_("merged into"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets", verbose_name=_("tags"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    # Indexed with the id (Meta.indexes): the list's default order.
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # SLA (tickets.sla): the targets' due times, moved on by the business time
    # spent waiting on the customer (sla_paused_seconds, counted when the wait
    # ends; sla_paused_at while it lasts), and the business time the first
    # response and the resolution took, not counting those waits.
    response_due_at = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due_at = models.DateTimeField(_("resolution due"), null=True, blank=True)
    sla_paused_at = models.DateTimeField(_("SLA paused since"), null=True, blank=True)
    sla_paused_seconds = models.PositiveIntegerField(_("SLA paused (business seconds)"), default=0)
    first_response_business_seconds = models.PositiveIntegerField(
        _("first response (business seconds)"), null=True, blank=True
    )
    resolution_business_seconds = models.PositiveIntegerField(
        _("resolution (business seconds)"), null=True, blank=True
    )
    # Workflow and severity order as numbers the database computes and indexes,
    # so the list can sort by status or priority without reading every row.
    status_rank = models.GeneratedField(
        expression=_rank_of("status", list(Status.values)),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
        verbose_name=_("status order"),
    )
    priority_rank = models.GeneratedField(
        expression=_rank_of("priority", list(Priority.values)),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
        verbose_name=_("priority order"),
    )
    # The next due time of a ticket whose SLA clock runs (open or in
    # progress): its first response until there is one, then its resolution.
    # Computed and indexed by the database, for the list's Due column.
    sla_due_at = models.GeneratedField(
        expression=models.Case(
            models.When(
                models.Q(status__in=[Status.OPEN, Status.IN_PROGRESS])
                & models.Q(first_response_at__isnull=True, response_due_at__isnull=False)
                & (
                    models.Q(resolution_due_at__isnull=True)
                    | models.Q(response_due_at__lte=models.F("resolution_due_at"))
                ),
                then=models.F("response_due_at"),
            ),
            models.When(
                status__in=[Status.OPEN, Status.IN_PROGRESS], then=models.F("resolution_due_at")
            ),
            default=None,
            output_field=models.DateTimeField(),
        ),
        output_field=models.DateTimeField(),
        db_persist=True,
        verbose_name=_("due"),
    )

    class Meta:
        ordering: ClassVar = ["-updated_at"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes: ClassVar = [
            models.Index(fields=["status", "-updated_at"]),
            models.Index(fields=["priority", "-updated_at"]),
            models.Index(fields=["assigned_to", "status"]),
            models.Index(fields=["team", "status"]),
            models.Index(fields=["created_by", "-updated_at"]),
            models.Index(fields=["category", "-updated_at"]),
            # The ticket list's filters with its default sort (newest change first),
            # and its sort by subject; see tests/search/test_list_indexes.py.
            models.Index(fields=["assigned_to", "-updated_at"], name="ticket_assignee_updated_idx"),
            models.Index(fields=["team", "-updated_at"], name="ticket_team_updated_idx"),
            models.Index(fields=["subject"], name="ticket_subject_idx"),
            models.Index(fields=["status_rank", "id"], name="ticket_status_rank_idx"),
            # The list's default order (-updated_at, -id) read straight from the
            # index, even where many tickets share a time (a bulk action):
            # on updated_at alone PostgreSQL sorts every tie to order the ids.
            models.Index(fields=["updated_at", "id"], name="ticket_updated_idx"),
            models.Index(fields=["priority_rank", "id"], name="ticket_priority_rank_idx"),
            # The Due column's sort and the breached / due-soon filters.
            models.Index(fields=["sla_due_at", "id"], name="ticket_sla_due_idx"),
            models.Index(fields=["response_due_at"], name="ticket_response_due_idx"),
            models.Index(fields=["resolution_due_at"], name="ticket_resolution_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    def get_absolute_url(self) -> str:
        return reverse("ticket_detail", kwargs={"reference": self.reference})

    @property
    def requester(self) -> models.Model:
        return self.created_by


class TicketCC(models.Model):
    """An address copied on the ticket: it receives public replies and may answer."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="ccs")
    email = models.EmailField(_("email address"))
    name = models.CharField(_("name"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("CC")
        verbose_name_plural = _("CCs")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["ticket", "email"], name="ticketcc_unique")
        ]

    def __str__(self) -> str:
        return self.email


class Message(models.Model):
    """One entry in a ticket's thread."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Public reply")
        NOTE = "note", _("Internal note")
        EVENT = "event", _("System event")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.REPLY)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    # The RFC 5322 Message-ID of the mail this entry came from or went out as.
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    body = models.TextField(_("text"), blank=True)
    # Quoted history and signature folded away from a mail reply, kept viewable.
    quoted = models.TextField(_("quoted text"), blank=True)
    # Sanitised HTML of a mail body (mailgateway.sanitize), empty for plain text.
    body_html = models.TextField(_("HTML"), blank=True)
    # Quiet entries (auto-replies, bookkeeping) notify nobody.
    is_quiet = models.BooleanField(_("quiet"), default=False)
    # Who a staff member's public reply was mailed to besides the requester:
    # the ticket's CCs at the time, and blind copies for that mail only (shown
    # to staff alone, never a participant). Comma-separated addresses.
    cc = models.TextField(_("Cc"), blank=True)
    bcc = models.TextField(_("Bcc"), blank=True)
    # body_html was written in our reply box (helpdesk.markup), not taken from
    # a mail: it holds only what its author typed, so whoever may read the
    # entry may see it formatted.
    formatted = models.BooleanField(_("formatted"), default=False)
    # A forward: the outside address (a supplier) this entry was mailed to,
    # and the entry it carried. The answer comes back as an internal note
    # with no author, from external_from (tickets.services.ticket_forward).
    forwarded_to = models.EmailField(_("forwarded to"), blank=True)
    forward_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("forwarded entry"),
    )
    external_from = models.EmailField(_("from outside"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes: ClassVar = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.ticket_id}"

    @property
    def is_public(self) -> bool:
        return self.kind == self.Kind.REPLY


class MailId(models.Model):
    """The Message-ID map: every mail Message-ID we received or sent about a ticket.

    The mail gateway threads a reply by looking its In-Reply-To/References up
    here; outbound records each notification's Message-ID here when it is
    enqueued. Stored without angle brackets.
    """

    message_id = models.CharField(_("Message-ID"), max_length=255, unique=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="mail_ids")
    # The thread entry the mail became or announced (the FK cannot be called
    # "message": Django would name its column message_id).
    entry = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="mail_ids"
    )
    outbound = models.BooleanField(_("sent by us"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("mail Message-ID")
        verbose_name_plural = _("mail Message-IDs")

    def __str__(self) -> str:
        return self.message_id


def attachment_path(instance: Attachment, filename: str) -> str:
    # Server-chosen names only: the sender's file name never touches the disk.
    return f"attachments/{timezone.now():%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="attachments", null=True, blank=True
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=127)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    # Inline images referenced from the HTML body as cid:<content_id>.
    content_id = models.CharField(_("Content-ID"), max_length=255, blank=True)
    is_inline = models.BooleanField(_("inline"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class TicketEvent(models.Model):
    """The audit trail: one row per change of a ticket's fields."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        STATUS = "status", _("Status changed")
        PRIORITY = "priority", _("Priority changed")
        ASSIGNEE = "assignee", _("Assignee changed")
        TEAM = "team", _("Team changed")
        CATEGORY = "category", _("Category changed")
        REPLY = "reply", _("Reply added")
        NOTE = "note", _("Note added")
        MOVED = "moved", _("Message moved")
        SLA_WARNING = "sla_warning", _("SLA breach near")
        SLA_BREACH = "sla_breach", _("SLA breached")
        MERGED = "merged", _("Tickets merged")
        TAGS = "tags", _("Tags changed")
        BOUNCED = "bounced", _("Mail bounced")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    old_value = models.CharField(_("from"), max_length=255, blank=True)
    new_value = models.CharField(_("to"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, editable=False)

    class Meta:
        ordering: ClassVar = ["created_at", "id"]
        verbose_name = _("ticket event")
        verbose_name_plural = _("ticket events")
        indexes: ClassVar = [models.Index(fields=["ticket", "created_at"])]

    def __str__(self) -> str:
        old, new = self.value_label(self.old_value), self.value_label(self.new_value)
        return f"{self.get_kind_display()}: {old} → {new}"

    def value_label(self, value: str) -> str:
        """An old/new value as people read it: status and priority codes
        ("in_progress") by their translated labels ("Em andamento")."""
        if self.kind == self.Kind.STATUS and value in Status.values:
            return str(Status(value).label)
        if self.kind == self.Kind.PRIORITY and value in Priority.values:
            return str(Priority(value).label)
        return value


class SLAPolicy(models.Model):
    """Targets for tickets of one priority, optionally only of a category
    and/or a team; the most specific match wins (tickets.sla)."""

    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices)
    category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("category"),
        help_text=_("Empty: any category."),
    )
    team = models.ForeignKey(
        Team,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("team"),
        help_text=_("Empty: any team."),
    )
    first_response_minutes = models.PositiveIntegerField(
        _("first response (business minutes)"), null=True, blank=True
    )
    resolution_minutes = models.PositiveIntegerField(
        _("resolution (business minutes)"), null=True, blank=True
    )

    class Meta:
        ordering: ClassVar = ["priority", "category", "team"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        parts = [str(self.get_priority_display())]
        parts += [str(x) for x in (self.category, self.team) if x is not None]
        return " / ".join(parts)

    def clean(self) -> None:
        # A unique constraint would treat two empty categories as different.
        same = SLAPolicy.objects.filter(
            priority=self.priority, category=self.category, team=self.team
        ).exclude(pk=self.pk)
        if same.exists():
            raise ValidationError(_("A policy for this priority, category and team exists."))
