"""`manage.py create_editor <username> --name "…"`: a newsroom login for the editors' desk.

The account is staff and in the "Editors" group (made by a migration), never a superuser, and is
linked to an Author (the byline its posts carry by default). The password comes from standard
input (`--password-stdin`, for scripts and secrets managers) or is generated and printed once.
"""

from __future__ import annotations

import secrets
import sys
from typing import Any

from django.contrib.auth.models import Group, User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.urls import reverse
from django.utils.text import slugify

from authors.models import Author

EDITORS_GROUP = "Editors"


class Command(BaseCommand):
    help = "Create an editor: a staff login in the Editors group, linked to an author byline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="full name, as the byline shows it")
        parser.add_argument("--email", default="")
        parser.add_argument("--role", default="", help='e.g. "Redakteurin", shown under the name')
        parser.add_argument("--author-slug", help="URL name of the author page (default: from the name)")
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
        parser.add_argument(
            "--site-url", default="", help="e.g. https://liveblog.example.org, to print full links"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        name: str = options["name"].strip()
        if User.objects.filter(username=username).exists():
            raise CommandError(f'A login "{username}" exists already; nothing was changed.')
        slug = options["author_slug"] or slugify(name)
        if not slug:
            raise CommandError("The name gives no author slug; pass --author-slug.")
        if Author.objects.filter(slug=slug).exists():
            raise CommandError(f'An author "{slug}" exists already; pass another --author-slug.')
        try:
            editors = Group.objects.get(name=EDITORS_GROUP)
        except Group.DoesNotExist:
            raise CommandError(
                f'The group "{EDITORS_GROUP}" is missing; run `manage.py migrate` first.'
            ) from None

        generated = not options["password_stdin"]
        password = secrets.token_urlsafe(18) if generated else sys.stdin.readline().rstrip("\n")
        first, _, last = name.partition(" ")
        user = User(
            username=username, email=options["email"], first_name=first, last_name=last, is_staff=True
        )
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError("The password was refused: " + " ".join(error.messages)) from None
        user.set_password(password)
        with transaction.atomic():
            user.save()
            user.groups.add(editors)
            Author.objects.create(name=name, slug=slug, role=options["role"], user=user)

        site = options["site_url"].rstrip("/")
        self.stdout.write(f'Editor "{username}" created, byline "{name}" ({slug}).')
        if generated:
            self.stdout.write(f"Password (shown once, pass it on securely): {password}")
        self.stdout.write(f"Log in at: {site}{reverse('admin:index')}")
        self.stdout.write(f"Two-step login (recommended), after logging in: {site}{reverse('two-factor')}")
