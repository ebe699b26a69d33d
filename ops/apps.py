from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: what proxies, orchestrators and monitoring ask the running process."""

    name = "ops"
    verbose_name = "Operations"
