from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _drop_config_snapshot(**kwargs) -> None:
    # After migrate or flush the rows behind the cached SLA configuration may be gone (test
    # databases are flushed between transactional tests): rebuild it on next use.
    from sla.selectors import sla_config_invalidate

    sla_config_invalidate()


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = _("服务级别（SLA）")

    def ready(self) -> None:
        post_migrate.connect(_drop_config_snapshot, sender=self, dispatch_uid="sla-config-reset")
