"""The ticket page's merge and tag forms (staff only)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tickets.references import parse_reference
from tickets.services import TAG_MAX_LENGTH


class MergeForm(forms.Form):
    into = forms.CharField(
        label=_("Merge into ticket"),
        max_length=40,
        help_text=_(
            "This ticket's messages, files and people move there, and it closes. "
            "Mail about it keeps reaching the other one."
        ),
        widget=forms.TextInput(attrs={"placeholder": "HD-2026-0001", "autocomplete": "off"}),
    )

    def clean_into(self) -> str:
        reference = parse_reference(self.cleaned_data["into"])
        if reference is None:
            raise ValidationError(_("Enter a ticket reference, such as HD-2026-0001."))
        return reference


class TagForm(forms.Form):
    """add: a tag to put on the ticket; remove: one to take off."""

    add = forms.CharField(label=_("Add a tag"), max_length=TAG_MAX_LENGTH, required=False)
    remove = forms.CharField(max_length=TAG_MAX_LENGTH, required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, str]:
        data = super().clean() or {}
        if not (data.get("add", "").strip() or data.get("remove", "").strip()):
            raise ValidationError(_("Give the tag a name."))
        return data
