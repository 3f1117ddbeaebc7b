"""The demo app's configuration: `manage.py demo`, the whole study end to end."""

from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "evalsite.demo"
    label = "demo"
    verbose_name = "Demo study"
