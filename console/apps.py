from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operators' console: the Django admin's screens over the services of every app.

    It has no models of its own. It sits at the top of the layers (only `config` above), so a
    screen may call any app's services; no app imports it.
    """

    name = "console"
    verbose_name = "Console"
