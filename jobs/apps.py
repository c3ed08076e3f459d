from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Invoice jobs and API access"  # sorts first in the console
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every tenant gets its periodic AUTOMATIC run, kept in step with it (jobs.schedules).
        # weak=False: the receivers are local functions, which a weak reference would lose.
        from django.db.models.signals import post_delete, post_save

        from jobs import (
            receivers,  # noqa: F401  (connects what jobs does on invoicing's signals)
            schedules,
        )
        from tenants.models import Tenant

        def tenant_saved(sender: type, instance: Tenant, **kwargs: object) -> None:
            schedules.automatic_schedule_ensure(instance)

        def tenant_deleted(sender: type, instance: Tenant, **kwargs: object) -> None:
            schedules.automatic_schedule_remove(instance.code)

        post_save.connect(tenant_saved, sender=Tenant, weak=False, dispatch_uid="jobs.tenant_schedule")

        # The console's roles need the permissions, which exist only after migrate.
        from django.db.models.signals import post_migrate

        from jobs.roles import roles_ensure

        post_migrate.connect(roles_ensure, sender=self, weak=False, dispatch_uid="jobs.roles")
        post_delete.connect(
            tenant_deleted, sender=Tenant, weak=False, dispatch_uid="jobs.tenant_schedule_remove"
        )
