"""People: the custom user whose login is the email address."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from helpdesk.roles import STAFF_ROLES, Role


def normalize_email_address(email: str) -> str:
    """One spelling per mailbox: logins and lookups are case-insensitive."""
    return email.strip().lower()


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=normalize_email_address(username or ""))

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=normalize_email_address(email), **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("role", Role.ADMIN)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(_("full name"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    language = models.CharField(
        _("preferred language"), max_length=8, choices=settings.LANGUAGES, default="pt-br"
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="America/Sao_Paulo")
    is_available = models.BooleanField(
        _("available"),
        default=True,
        help_text=_("Available agents receive new-ticket notifications and assignments."),
    )
    # Working hours (helpdesk.availability): the agent becomes available when
    # the calendar's working time starts and away when it ends; a change by
    # hand in between holds until the next start or end.
    work_calendar = models.ForeignKey(
        "tickets.BusinessCalendar",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("working hours"),
        help_text=_("Sets the agent available in the calendar's working time, away outside it."),
    )
    # What the working hours last set is_available to (None: not yet).
    work_calendar_state = models.BooleanField(null=True, blank=True, editable=False)
    signature = models.TextField(_("signature"), blank=True)
    # Managers always get the report summary mails (send_reports); admins opt in.
    reports_mail = models.BooleanField(
        _("report summary mails"),
        default=False,
        help_text=_("Receive the daily and weekly summary of the reports by mail."),
    )
    # False only between a web sign-up and the click on its verification link;
    # accounts made from mail, by staff or by seed_demo are taken as verified.
    email_verified = models.BooleanField(_("email verified"), default=True)
    is_active = models.BooleanField(_("active"), default=True)
    # Derived from the role on save; Django's admin reads it.
    is_staff = models.BooleanField(_("staff status"), default=False, editable=False)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [models.UniqueConstraint(Lower("email"), name="user_email_ci_unique")]
        indexes = [models.Index(fields=["role", "is_active"])]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.email = normalize_email_address(self.email)
        self.is_staff = self.role in STAFF_ROLES
        self.is_superuser = self.role == Role.ADMIN
        super().save(*args, **kwargs)

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split()[0]

    @property
    def is_agent(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER


class SavedView(models.Model):
    """A named ticket-list filter set (the list's query string), personal or shared."""

    name = models.CharField(_("name"), max_length=80)
    querystring = models.CharField(_("filters"), max_length=1000, blank=True)
    owner = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="saved_views", verbose_name=_("owner")
    )
    shared = models.BooleanField(
        _("shared"), default=False, help_text=_("Shared views are offered to every agent.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["name", "id"]
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["owner", "name"], name="savedview_owner_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


# --- What happens around a ticket in the web panel: notifications, presence,
# reply drafts and the customer's satisfaction rating. They are the web
# adapter's own records; none of them changes a ticket.


class Notification(models.Model):
    """One in-app notice for one person, written by a tickets.events subscriber."""

    class Kind(models.TextChoices):
        NEW_TICKET = "new_ticket", _("New ticket in your team")
        REPLY = "reply", _("New reply")
        NOTE = "note", _("New internal note")
        ASSIGNED = "assigned", _("Assigned to you")
        MENTION = "mention", _("You were mentioned")
        STATUS = "status", _("Status changed")
        BOUNCED = "bounced", _("A mail bounced")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    ticket = models.ForeignKey(
        "tickets.Ticket",
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("ticket"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    # For status changes: the new status value, shown translated.
    detail = models.CharField(_("detail"), max_length=64, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes: ClassVar = [
            # The bell counts unread rows per person on every poll.
            models.Index(fields=["recipient", "read_at"]),
            models.Index(fields=["recipient", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id} on {self.ticket_id}"


class TicketPresence(models.Model):
    """Who had a ticket open a moment ago, so two agents do not answer at once.

    A table rather than the cache: the default cache is per process, and the
    web runs several processes that must all see the same heartbeats.
    """

    class State(models.TextChoices):
        VIEWING = "viewing", _("viewing")
        REPLYING = "replying", _("replying")

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="presences")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.VIEWING)
    seen_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["ticket", "user"], name="presence_one_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.state} {self.ticket_id}"


class ReplyDraft(models.Model):
    """An unsent reply or note, kept on the server per person and ticket."""

    class Kind(models.TextChoices):
        REPLY = "reply", _("Reply")
        NOTE = "note", _("Internal note")

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.REPLY)
    body = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["user", "ticket", "kind"], name="draft_one_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} draft by {self.user_id} on {self.ticket_id}"


class SatisfactionRating(models.Model):
    """The requester's 1-5 rating of a closed ticket; one per ticket."""

    ticket = models.OneToOneField(
        "tickets.Ticket",
        on_delete=models.CASCADE,
        related_name="satisfaction",
        verbose_name=_("ticket"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("rated by"),
    )
    score = models.PositiveSmallIntegerField(
        _("score"), validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    created_at = models.DateTimeField(_("rated"), auto_now_add=True, db_index=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        verbose_name = _("satisfaction rating")
        verbose_name_plural = _("satisfaction ratings")
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.score}"


class JobRun(models.Model):
    """When the scheduler (helpdesk.ops.scheduler) last started each job, so
    that two schedulers never run the same job twice: a run is claimed by a
    conditional UPDATE of last_started_at from the value the claimer read."""

    name = models.CharField(_("job"), max_length=64, unique=True)
    last_started_at = models.DateTimeField(_("last started"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last finished"), null=True, blank=True)
    last_ok = models.BooleanField(_("last run succeeded"), default=True)
    last_error = models.TextField(_("last error"), blank=True)
    runs = models.PositiveIntegerField(_("runs"), default=0)

    class Meta:
        ordering: ClassVar = ["name"]
        verbose_name = _("scheduled job")
        verbose_name_plural = _("scheduled jobs")

    def __str__(self) -> str:
        return self.name


class Heartbeat(models.Model):
    """A long-running process saying it is alive (helpdesk.heartbeats): the
    worker, the scheduler. /healthz and the System page read them, so one
    stopped worker among several hosts shows, and a helpdesk with none at all
    turns unhealthy. One row a process; rows of processes long gone are pruned."""

    key = models.CharField(_("process"), max_length=200, unique=True)  # kind:host:pid
    kind = models.CharField(_("kind"), max_length=32, db_index=True)
    host = models.CharField(_("host"), max_length=150)
    pid = models.PositiveIntegerField(_("process id"))
    started_at = models.DateTimeField(_("started"))
    seen_at = models.DateTimeField(_("last seen"), db_index=True)

    class Meta:
        ordering: ClassVar = ["kind", "host", "pid"]
        verbose_name = _("process heartbeat")
        verbose_name_plural = _("process heartbeats")

    def __str__(self) -> str:
        return self.key


class AuditEntry(models.Model):
    """A security-relevant action outside tickets (helpdesk.audit): sign-ins
    and failures, changes to accounts, roles, groups and permissions, to
    mailboxes, routing, webhooks and API tokens, exports, deletions and
    quarantine releases. Ticket changes have their own trail (TicketEvent).
    Written once, never edited; pruned after HELPDESK_AUDIT_DAYS."""

    class Action(models.TextChoices):
        LOGIN = "login", _("Signed in")
        LOGIN_FAILED = "login_failed", _("Failed sign-in")
        LOGOUT = "logout", _("Signed out")
        CREATED = "created", _("Created")
        CHANGED = "changed", _("Changed")
        DELETED = "deleted", _("Deleted")
        PERMISSIONS = "permissions", _("Groups or permissions changed")
        TOKEN_CREATED = "token_created", _("API token created")
        TOKEN_REVOKED = "token_revoked", _("API token revoked")
        EXPORT = "export", _("Data exported")
        QUARANTINE = "quarantine", _("Quarantined mail released")

    at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        "User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    # Kept as text too: the account may be deleted later, and a failed
    # sign-in has only the address that was typed.
    actor_email = models.CharField(_("actor's address"), max_length=254, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        ordering: ClassVar = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes: ClassVar = [models.Index(fields=["action", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_repr}"
