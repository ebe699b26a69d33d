from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The read-only JSON API for apps and partners (docs/openapi.yaml)."""

    name = "api"
    verbose_name = "API"
