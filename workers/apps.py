from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"
    verbose_name = "Workers"

    def ready(self):
        # connects the watchdog to worker_ready: every worker looks for lost work of any build
        from workers import recovery  # noqa: F401
