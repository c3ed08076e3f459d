"""The console's screens, one module per app whose models they show.

Django's admin autodiscovery imports `console.admin`; importing the modules registers them.
`console` comes last in INSTALLED_APPS, so the third-party admins it adjusts
(django-oauth-toolkit, django-celery-beat) are registered before it.
"""

from console.admin import credit_notes, integrations, invoicing, jobs, tenants  # noqa: F401
from console.admin.common import hide_oauth_internals

hide_oauth_internals()
