"""Static files in production: hashed names, so the proxy may cache them forever.

Vendored minified libraries (Chart.js) end with a `sourceMappingURL` comment naming a source
map that is not shipped. Django's ManifestStaticFilesStorage rewrites every reference to its
hashed name and fails `collectstatic` on one whose file is missing; a missing source map only
means the browser's developer tools show minified code, so it keeps its reference. Any other
missing reference (an image a stylesheet needs) still fails loudly.
"""

from collections.abc import Callable
from re import Match
from typing import Any

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage


class ManifestStaticStorage(ManifestStaticFilesStorage):
    # The stubs describe Django 6's extra `ignored_blocks` parameter; Django 5.2 has none.
    def url_converter(  # type: ignore[override]
        self, name: str, hashed_files: dict[str, Any], template: str | None = None
    ) -> Callable[[Match[str]], str]:
        convert = super().url_converter(name, hashed_files, template)

        def converter(match: Match[str]) -> str:
            try:
                return convert(match)
            except ValueError:
                if match["url"].split("#")[0].split("?")[0].endswith(".map"):
                    return match["matched"]
                raise

        return converter
