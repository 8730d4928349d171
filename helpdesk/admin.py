from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, Permission
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk.accounts import user_set_role
from helpdesk.models import AuditEntry, SatisfactionRating, User


class UserCreationForm(forms.ModelForm):  # type: ignore[type-arg]
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput,
        required=False,
        help_text=_('Leave empty to let the person set one with "forgot password".'),
    )

    class Meta:
        model = User
        fields = ("email", "full_name", "role", "language")

    def save(self, commit: bool = True) -> User:
        user: User = super().save(commit=False)
        if self.cleaned_data.get("password"):
            user.set_password(self.cleaned_data["password"])
        else:
            user.set_unusable_password()
        if commit:
            user.save()
        return user


# Django stores permission names in English when it creates them ("Can add
# ticket event"); the four it makes for every model are named here again in
# the reader's language, after the model's translated name.
PERMISSION_ACTIONS = {
    "add": _("Can add"),
    "change": _("Can change"),
    "delete": _("Can delete"),
    "view": _("Can view"),
}


def permission_label(permission: Permission) -> str:
    action, _sep, model = permission.codename.partition("_")
    if action in PERMISSION_ACTIONS and model == permission.content_type.model:
        return f"{permission.content_type} | {PERMISSION_ACTIONS[action]}"
    return f"{permission.content_type} | {gettext(permission.name)}"


class TranslatedPermissions:
    """Permission pickers that read in the reader's language."""

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if field is not None and db_field.related_model is Permission:
            field.label_from_instance = permission_label
        return field


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(TranslatedPermissions, BaseGroupAdmin):
    pass


@admin.register(User)
class UserAdmin(TranslatedPermissions, BaseUserAdmin):  # type: ignore[type-arg]
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ("email",)
    list_display = (
        "email",
        "full_name",
        "role",
        "is_available",
        "language",
        "is_active",
        "last_login",
    )
    list_filter = ("role", "is_active", "is_available", "language", "teams")
    search_fields = ("email", "full_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Profile"), {"fields": ("full_name", "language", "time_zone", "signature")}),
        (
            _("Role"),
            {
                "fields": (
                    "role",
                    "is_available",
                    "work_calendar",
                    "is_active",
                    "groups",
                    "user_permissions",
                )
            },
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"fields": ("email", "full_name", "role", "language", "password")}),)
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ("groups", "user_permissions")

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # After the form saved its groups, so the role's group is not undone.
        super().save_related(request, form, formsets, change)
        if not change or "role" in form.changed_data:
            user_set_role(user=form.instance, role=form.instance.role)


@admin.register(SatisfactionRating)
class SatisfactionRatingAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("ticket", "score", "user", "created_at")
    list_filter = ("score",)
    search_fields = ("ticket__reference", "comment")
    readonly_fields = ("ticket", "user", "score", "comment", "created_at")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: an audit log nobody can edit or delete from the panel
    (entries go after HELPDESK_AUDIT_DAYS, by `prune_audit`)."""

    list_display = ("at", "action", "actor_email", "ip", "object_type", "object_repr")
    list_filter = ("action", "object_type", ("at", admin.DateFieldListFilter))
    search_fields = ("actor_email", "ip", "object_repr", "detail")
    date_hierarchy = "at"
    list_select_related = ("actor",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
