"""ProviderConfig.preset, and the preset of the providers that exist.

The catalog is keyed by preset from now on, so each existing provider gets the preset it is:
- kind openai, anthropic or gemini: the preset of the same name, whatever its base URL. The kind
  `openai` is the OpenAI service itself (an OpenAI-compatible server has its own kind,
  `openai_compatible`), so one with another base URL is OpenAI through a gateway or regional
  endpoint, and keeps getting the OpenAI catalog it got before.
- kind openai_compatible: the hosted service whose API host its base URL names (api.mistral.ai
  -> mistral, api.groq.com -> groq, ...); any other host (a server of one's own: Ollama, vLLM,
  a gateway) gets no preset, so no service's priced catalog reaches a server that may not serve
  those models. Staff can set the preset later. Self-hosted presets are not guessed either
  (a port is no proof): they bring no catalog, so nothing is lost.
The table is frozen here (a migration must not follow later edits of providers/presets.py).
"""

from urllib.parse import urlsplit

from django.db import migrations, models

import providers.presets

OFFICIAL = ("openai", "anthropic", "gemini")
HOSTED = {
    "api.mistral.ai": "mistral",
    "api.groq.com": "groq",
    "api.deepseek.com": "deepseek",
    "api.x.ai": "xai",
    "api.together.xyz": "together",
    "api.together.ai": "together",
    "openrouter.ai": "openrouter",
}


def _host(url: str) -> str:
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def presets_guess(apps, schema_editor):
    ProviderConfig = apps.get_model("providers", "ProviderConfig")
    for kind in OFFICIAL:
        ProviderConfig.objects.filter(kind=kind, preset="").update(preset=kind)
    compatible = ProviderConfig.objects.filter(kind="openai_compatible", preset="")
    for pk, base_url in compatible.values_list("pk", "base_url"):
        preset = HOSTED.get(_host(base_url or ""), "")
        if preset:
            ProviderConfig.objects.filter(pk=pk).update(preset=preset)


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0008_selection_request_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="providerconfig",
            name="preset",
            field=models.CharField(
                blank=True,
                choices=providers.presets.preset_choices,
                default="",
                help_text="The service (its base URL, key need and catalog models and prices). "
                "The official kinds are their own preset; blank for an OpenAI-compatible server "
                "of your own.",
                max_length=32,
            ),
        ),
        migrations.RunPython(presets_guess, migrations.RunPython.noop),
    ]
