"""`manage.py export_liveblog <slug> <dir>`: a live blog as a static archive (see archive/)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from archive import export
from archive.checks import ExchangeError
from posts.models import LiveBlog


class Command(BaseCommand):
    help = (
        "Write a live blog into a new or empty directory: index.html (opens from disk, no JavaScript), "
        "the images it shows under media/, and liveblog.json for import_liveblog."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="slug of the live blog (any state, drafts too)")
        parser.add_argument("directory", help="where to write; created if missing, must be empty")

    def handle(self, *args: Any, slug: str, directory: str, **options: Any) -> None:
        blog = LiveBlog.objects.filter(slug=slug).first()
        if blog is None:
            raise CommandError(f"No live blog has the slug “{slug}”.")
        try:
            data = export.export_blog(blog, directory)
        except ExchangeError as exc:
            raise CommandError(str(exc)) from exc
        deleted = sum(1 for post in data["posts"] if post["deleted_at"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported “{blog.title}” ({blog.state}) to {directory}: {len(data['posts'])} posts "
                f"({deleted} deleted), {len(data['authors'])} authors, {len(data['events'])} events."
            )
        )
