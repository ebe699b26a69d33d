"""`manage.py import_liveblog <dir>`: restore a blog written by export_liveblog (see archive/)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archive import restore
from archive.checks import ExchangeError


class Command(BaseCommand):
    help = (
        "Restore a live blog from an export_liveblog directory: authors (matched by slug), posts "
        "(deleted ones too), the event log and images. Refused if the blog's slug exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="a directory written by export_liveblog")

    def handle(self, *args: Any, directory: str, **options: Any) -> None:
        try:
            result = restore.import_blog(directory)
        except ExchangeError as exc:
            raise CommandError(str(exc)) from exc
        for warning in result.warnings:
            self.stderr.write(self.style.WARNING(warning))
        authors = f"{len(result.authors_created)} authors created, {len(result.authors_reused)} reused"
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported “{result.blog.title}” as {result.blog.slug} ({result.blog.state}): "
                f"{result.posts} posts, {result.events} events, {authors}, {result.files} files."
            )
        )
