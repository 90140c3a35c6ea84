from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsdeskConfig(AppConfig):
    name = "opsdesk"
    verbose_name = _("运维服务台")

    def ready(self) -> None:
        from opsdesk import lookups  # noqa: F401 - registers the ``substring`` lookup
