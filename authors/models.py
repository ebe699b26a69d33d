from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from images.processing import AVATAR_SIZES, ProcessedImage, delete_renditions, rendition_of


class Author(models.Model):
    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    role = models.CharField(
        _("role"), max_length=200, blank=True, help_text=_('e.g. "Korrespondentin in Washington"')
    )
    bio = models.TextField(_("bio"), blank=True)
    # The 256 px rendition; 64 and 128 px ones are stored beside it (see avatar_url).
    avatar = models.ImageField(_("avatar"), upload_to="avatars/", blank=True, editable=False)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user account"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="author",
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("author")
        verbose_name_plural = _("authors")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("author-detail", kwargs={"slug": self.slug})

    def avatar_url(self, size: int = 128) -> str:
        name = self.avatar.name
        if not name:
            return ""
        return self.avatar.storage.url(rendition_of(name, size))

    @property
    def avatar_64(self) -> str:
        return self.avatar_url(64)

    @property
    def avatar_128(self) -> str:
        return self.avatar_url(128)

    @property
    def avatar_256(self) -> str:
        return self.avatar_url(256)

    def replace_avatar(self, processed: ProcessedImage | None) -> None:
        """Store new renditions (or none), save, then delete the old files.

        The old files go only after the row points at the new ones, so a failed save never leaves
        an author without the avatar they had.
        """
        old = self.avatar.name
        self.avatar.name = processed.save("avatars") if processed else ""
        self.save(update_fields=["avatar"])
        if old and old != self.avatar.name:
            delete_renditions(old, AVATAR_SIZES)
