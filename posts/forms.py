"""Editor-facing forms. They validate and prepare; posts/services.py writes.

A failed form re-renders with everything the editor typed (the uploaded file aside, which browsers
never re-send) and the error next to its field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.middleware.csp import get_nonce
from django.utils.translation import gettext_lazy as _
from js_asset import Media

from authors.models import Author
from images.processing import process_photo

from .checks import EditConflictError, check_blog_open, check_image_alt, check_post_in_blog, check_version
from .models import LiveBlog, Post

if TYPE_CHECKING:
    from django.http import QueryDict

IMAGE_ACCEPT = "image/jpeg,image/png,image/gif,image/webp"


def media_with_nonce(media, request) -> Media:
    """Form media whose inline import map carries the request's CSP nonce (else the editor is blocked)."""
    return Media.from_media(media, nonce=get_nonce(request))


class OrderedAuthorsField(forms.ModelMultipleChoiceField):
    """Authors in the order the editor picked them (the byline order), not by primary key."""

    def clean(self, value):
        queryset = super().clean(value)
        by_pk = {str(author.pk): author for author in queryset}
        return [by_pk[str(pk)] for pk in dict.fromkeys(value or []) if str(pk) in by_pk]


class PostForm(forms.ModelForm):
    authors = OrderedAuthorsField(
        queryset=Author.objects.all(),
        required=False,
        label=_("Authors"),
    )
    image_upload = forms.FileField(
        label=_("Image"),
        required=False,
        help_text=_("JPEG, PNG, GIF or WebP, at most 10 MB. Stored re-encoded, without location data."),
        widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
    )
    remove_image = forms.BooleanField(label=_("Remove the image"), required=False)
    # The version the editor started from; a save against a newer one is a conflict.
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    # A refusal the service raised at save time, after this form's own checks had passed
    # (another editor saved or archived in between): shown as the form's error on the re-shown form.
    service_refusal: ValidationError | None = None

    class Meta:
        model = Post
        # Declared fields (authors, image_upload, remove_image, base_version) come on top of these.
        fields = [
            "live_blog",
            "headline",
            "body",
            "is_important",
            "is_pinned",
            "image_alt",
            "image_caption",
            "image_credit",
            "source",
            "published_at",
        ]

    def __init__(self, *args, live_blog: LiveBlog | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # Select2 appends picks in the order they are made, so the submitted order is the byline.
        authors = cast(OrderedAuthorsField, self.fields["authors"])
        authors.widget = AutocompleteSelectMultiple(Post._meta.get_field("authors"), admin.site)
        authors.widget.choices = authors.choices
        if live_blog is not None and not self.instance.live_blog_id:
            self.instance.live_blog = live_blog
        self.live_blog = self.instance.live_blog if self.instance.live_blog_id else None
        if "live_blog" in self.fields:
            blogs = cast("forms.ModelChoiceField[LiveBlog]", self.fields["live_blog"])
            blogs.queryset = LiveBlog.objects.exclude(state=LiveBlog.State.ARCHIVED)
        if self.instance.pk:
            self.fields["base_version"].initial = self.instance.version
            self.fields["authors"].initial = [a.pk for a in self.instance.ordered_authors]
        else:
            self.fields.pop("remove_image", None)

    def clean_image_upload(self):
        upload = self.cleaned_data.get("image_upload")
        return process_photo(upload) if upload else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        assert cleaned is not None  # ModelForm.clean() returns cleaned_data
        blog = cleaned.get("live_blog") or self.live_blog
        try:
            if self.instance.pk and blog is not None:
                check_post_in_blog(self.instance, blog)
            if blog is not None:
                check_blog_open(blog)
        except ValidationError as refusal:
            self.add_error("live_blog" if refusal.code == "wrong_blog" else None, refusal)
            return cleaned
        has_image = bool(
            cleaned.get("image_upload") or (self.instance.image and not cleaned.get("remove_image"))
        )
        try:
            check_image_alt(has_image, cleaned.get("image_alt") or "")
        except ValidationError as refusal:
            self.add_error(None, refusal)
        self._check_version(cleaned)
        if self.service_refusal is not None and not self.has_error(
            NON_FIELD_ERRORS, self.service_refusal.code
        ):
            # The service refused under the lock what the checks here had let through (PostAdmin).
            self.add_error(None, self.service_refusal)
        return cleaned

    def _check_version(self, cleaned: dict[str, Any]) -> None:
        if not self.instance.pk:
            return
        current = Post.objects.filter(pk=self.instance.pk).first()
        if current is None:
            return
        try:
            check_version(current, cleaned.get("base_version"))
        except EditConflictError as conflict:
            # Show their version; saving again now deliberately replaces it.
            # A bound form's data here is request.POST, whose copy is mutable.
            data = cast("QueryDict", self.data).copy()
            data[self.add_prefix("base_version")] = str(current.version)
            self.data = data
            self.add_error(None, conflict)

    def validate_constraints(self):
        # Pinning a post unpins the other one (services), which the one-pinned constraint cannot
        # know in advance; alt text is checked in clean(). The database still enforces both.
        return


class ComposerForm(PostForm):
    """The composer on a blog's admin page: the blog is given by the URL."""

    class Meta(PostForm.Meta):
        fields = ["headline", "body", "is_important", "image_alt", "image_caption", "image_credit", "source"]

    field_order = [
        "headline",
        "body",
        "authors",
        "is_important",
        "image_upload",
        "image_alt",
        "image_caption",
        "image_credit",
        "source",
    ]
