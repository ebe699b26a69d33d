"""accounts/management/commands/create_editor.py: a newsroom login for the desk, from the shell."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from authors.models import Author
from tests.factories import AuthorFactory

pytestmark = pytest.mark.django_db


def create(*args: str, stdin: str | None = None, monkeypatch=None) -> str:
    out = io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("create_editor", *args, stdout=out)
    return out.getvalue()


def test_creates_a_staff_editor_with_a_linked_byline_and_prints_the_password_once():
    out = create(
        "lena", "--name", "Lena Hartwig", "--role", "Redakteurin", "--site-url", "https://lb.example/"
    )
    user = User.objects.get(username="lena")
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["Editors"]
    author = Author.objects.get(user=user)
    assert (author.name, author.slug, author.role) == ("Lena Hartwig", "lena-hartwig", "Redakteurin")
    password = re.search(r"Password \(shown once, pass it on securely\): (\S+)", out).group(1)
    assert user.check_password(password)
    assert "https://lb.example/admin/" in out and "https://lb.example/admin/two-factor/" in out
    assert user.has_perm("posts.add_post") and user.has_perm("posts.archive_liveblog")


def test_the_password_can_come_from_standard_input(monkeypatch):
    out = create(
        "ole",
        "--name",
        "Ole Brandt",
        "--password-stdin",
        stdin="ein langes Passwort 2026\n",
        monkeypatch=monkeypatch,
    )
    assert "Password" not in out
    assert User.objects.get(username="ole").check_password("ein langes Passwort 2026")


def test_a_weak_password_is_refused_and_nothing_is_created(monkeypatch):
    with pytest.raises(CommandError, match="password was refused"):
        create("ole", "--name", "Ole Brandt", "--password-stdin", stdin="ole\n", monkeypatch=monkeypatch)
    assert not User.objects.filter(username="ole").exists()
    assert not Author.objects.filter(slug="ole-brandt").exists()


def test_existing_logins_and_bylines_are_never_touched():
    existing = User.objects.create_user("lena", password="unverändert-2026")
    with pytest.raises(CommandError, match="exists already"):
        create("lena", "--name", "Lena Hartwig")
    existing.refresh_from_db()
    assert existing.check_password("unverändert-2026") and not existing.is_staff

    AuthorFactory(slug="ole-brandt")
    with pytest.raises(CommandError, match="author"):
        create("ole", "--name", "Ole Brandt")
    assert not User.objects.filter(username="ole").exists()
