from django import forms
from django.utils.translation import gettext_lazy as _

from images.processing import process_avatar

from .models import Author


class AuthorForm(forms.ModelForm):
    avatar_upload = forms.FileField(
        label=_("Avatar"),
        required=False,
        help_text=_(
            "A portrait: JPEG, PNG, GIF or WebP, at most 10 MB. Cropped square; location data "
            "and other metadata are removed."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/gif,image/webp"}),
    )
    remove_avatar = forms.BooleanField(label=_("Remove the avatar"), required=False)

    class Meta:
        model = Author
        fields = ["name", "slug", "role", "bio", "user", "avatar_upload", "remove_avatar"]

    def clean_avatar_upload(self):
        upload = self.cleaned_data.get("avatar_upload")
        # Processed during validation: a bad file is a form error and nothing is stored.
        return process_avatar(upload) if upload else None
