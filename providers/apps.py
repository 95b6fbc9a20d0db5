from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "LLM providers"

    def ready(self) -> None:
        from providers import consumers, signals  # noqa: F401
