from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "central.api"
    label = "api"
    verbose_name = "API"
