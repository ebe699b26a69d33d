from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: what proxies, orchestrators and monitoring ask the running process."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from ops import metrics

        user_locked_out.connect(metrics.login_locked_out, dispatch_uid="ops.metrics.login_locked_out")
