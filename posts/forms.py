"""Editor-facing forms. They validate and prepare; posts/services.py writes.

A failed form re-renders with everything the editor typed (the uploaded file aside, which browsers
never re-send) and the error next to its field.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelectMultiple
from django.middleware.csp import get_nonce
from django.utils.formats import date_format
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from js_asset import Media

from authors.models import Author
from images.processing import process_photo

from .models import LiveBlog, Post

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
        authors = self.fields["authors"]
        authors.widget = AutocompleteSelectMultiple(Post._meta.get_field("authors"), admin.site)
        authors.widget.choices = authors.choices
        if live_blog is not None and not self.instance.live_blog_id:
            self.instance.live_blog = live_blog
        self.live_blog = self.instance.live_blog if self.instance.live_blog_id else None
        if "live_blog" in self.fields:
            self.fields["live_blog"].queryset = LiveBlog.objects.exclude(state=LiveBlog.State.ARCHIVED)
        if self.instance.pk:
            self.fields["base_version"].initial = self.instance.version
            self.fields["authors"].initial = [a.pk for a in self.instance.ordered_authors]
        else:
            self.fields.pop("remove_image", None)

    def clean_image_upload(self):
        upload = self.cleaned_data.get("image_upload")
        return process_photo(upload) if upload else None

    def clean(self):
        cleaned = super().clean()
        blog = cleaned.get("live_blog") or self.live_blog
        if self.instance.pk and blog is not None and blog.pk != self.instance.live_blog_id:
            # Its events belong to the old blog's log; readers of either would be misled.
            self.add_error("live_blog", _("A post cannot be moved to another live blog."))
            return cleaned
        if blog is not None and blog.is_archived:
            raise forms.ValidationError(
                _("“%(title)s” is archived and can no longer be changed.") % {"title": blog.title},
                code="archived",
            )
        has_image = cleaned.get("image_upload") or (self.instance.image and not cleaned.get("remove_image"))
        if has_image and not (cleaned.get("image_alt") or "").strip():
            self.add_error("image_alt", _("Describe the image for readers who cannot see it."))
        self._check_version(cleaned)
        return cleaned

    def _check_version(self, cleaned) -> None:
        if not self.instance.pk or cleaned.get("base_version") is None:
            return
        current = Post.objects.filter(pk=self.instance.pk).first()
        if current is None or current.version == cleaned["base_version"]:
            return
        # Show their version; saving again now deliberately replaces it.
        self.data = self.data.copy()
        self.data[self.add_prefix("base_version")] = current.version
        self.add_error(
            None,
            forms.ValidationError(
                _(
                    "Someone else saved this post at %(time)s while you were editing. Their version: "
                    "“%(headline)s” – %(text)s. Your text is kept below; save again to replace theirs."
                ),
                code="conflict",
                params={
                    "time": date_format(current.updated_at, "TIME_FORMAT"),
                    "headline": current.headline,
                    "text": Truncator(strip_tags(current.body)).words(40),
                },
            ),
        )

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
