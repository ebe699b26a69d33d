from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from django.contrib import admin

        from .forms import LoginForm

        # The desk's only login: password, plus the app code for editors who turned it on.
        admin.site.login_form = LoginForm
