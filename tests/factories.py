import importlib

import factory
from django.contrib.auth.models import Group, User
from django.utils.text import slugify

from authors.models import Author
from posts.models import LiveBlog, Post


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password("correct horse battery staple")


class StaffFactory(UserFactory):
    is_staff = True


def editors_group() -> Group:
    """The "Editors" group as its migration creates it (transactional tests flush it away)."""
    from django.contrib.auth.models import Permission

    migration = importlib.import_module("posts.migrations.0002_editors_group")
    group, created = Group.objects.get_or_create(name="Editors")
    if created:
        for app_label, codenames in migration.EDITOR_PERMISSIONS.items():
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
            )
    return group


class EditorFactory(StaffFactory):
    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def editors_group(self, create, extracted, **kwargs):
        if create:
            self.groups.add(editors_group())


class AuthorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Author

    name = factory.Sequence(lambda n: f"Autorin {n}")
    slug = factory.LazyAttribute(lambda a: slugify(a.name))
    role = "Redakteurin"


class LiveBlogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LiveBlog

    slug = factory.Sequence(lambda n: f"blog-{n}")
    kicker = "Wahlabend"
    title = factory.Sequence(lambda n: f"Liveblog {n}")
    teaser = "Alle Entwicklungen im Überblick."
    state = LiveBlog.State.LIVE


class PostFactory(factory.django.DjangoModelFactory):
    """Writes rows directly, without events: for read-side tests. Writes under test use services."""

    class Meta:
        model = Post

    live_blog = factory.SubFactory(LiveBlogFactory)
    headline = factory.Sequence(lambda n: f"Meldung {n}")
    body = "<p>Text der Meldung.</p>"
