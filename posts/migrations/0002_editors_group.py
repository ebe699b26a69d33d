"""Create the "Editors" group: the people who may run blogs, posts and authors in the admin."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

EDITOR_PERMISSIONS = {
    "posts": ["add_liveblog", "change_liveblog", "view_liveblog", "go_live_liveblog", "archive_liveblog",
              "add_post", "change_post", "delete_post", "view_post", "view_event"],
    "authors": ["add_author", "change_author", "view_author"],
}


def create_editors_group(apps, schema_editor):
    # Permissions are normally created after all migrations ran; make sure they exist now.
    for app_label in EDITOR_PERMISSIONS:
        app_config = apps.get_app_config(app_label)
        # The migration state's app stub has no models_module, which create_permissions requires.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Editors")
    for app_label, codenames in EDITOR_PERMISSIONS.items():
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )


def remove_editors_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Editors").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("posts", "0001_initial"),
        ("authors", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_editors_group, remove_editors_group)]
