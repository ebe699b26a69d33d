from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo blogs and the editor login that `make run` loads."""

    name = "demo"
    verbose_name = "Demo content"
