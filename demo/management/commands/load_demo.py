"""`manage.py load_demo`: German demo content for `make run`; safe to run again."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from demo import loader
from demo.schema import ContentError


class Command(BaseCommand):
    help = (
        "Load the demo: a live and an archived live blog with posts, three authors and the editor "
        f"login {loader.EDITOR_USERNAME} / {loader.EDITOR_PASSWORD}. Blogs that exist are left as they are."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = loader.load()
        except (loader.DemoError, ContentError) as exc:
            raise CommandError(str(exc)) from exc
        if not result.created:
            self.stdout.write(f"Demo already loaded ({', '.join(result.existing)}); nothing changed.")
            return
        parts = [f"{len(result.created)} live blog(s) ({', '.join(result.created)})", f"{result.posts} posts"]
        if result.authors_created:
            parts.append(f"{result.authors_created} authors")
        if result.existing:
            parts.append(f"kept existing {', '.join(result.existing)}")
        login = (
            f"editor login {loader.EDITOR_USERNAME} / {loader.EDITOR_PASSWORD}"
            if result.user_created
            else f"user {loader.EDITOR_USERNAME} already existed and was left unchanged"
        )
        self.stdout.write(self.style.SUCCESS(f"Demo loaded: {', '.join(parts)}; {login}."))
