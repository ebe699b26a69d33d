from django.apps import AppConfig


class ArchiveConfig(AppConfig):
    """Finished blogs: static export, import elsewhere, archiving idle blogs by cron."""

    name = "archive"
    verbose_name = "Archive"
