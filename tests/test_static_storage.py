"""config.storage.ManifestStaticStorage: hashed static files, tolerant of unshipped source maps
only."""

import pytest
from django.core.management import call_command
from django.test import override_settings

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "config.storage.ManifestStaticStorage"},
}


def collect(tmp_path, files: dict[str, str]) -> dict[str, str]:
    source = tmp_path / "src"
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    root = tmp_path / "root"
    with override_settings(
        STATIC_ROOT=root,
        STATICFILES_DIRS=[source],
        STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        STORAGES=STORAGES,
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
    return {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()}


def test_a_missing_source_map_keeps_its_reference_and_the_rest_is_hashed(tmp_path):
    written = collect(
        tmp_path,
        {
            "lib/chart.js": "var chart = 1;\n//# sourceMappingURL=chart.js.map",
            "app.css": 'body { background: url("img/dot.png"); }',
            "img/dot.png": "png",
        },
    )
    hashed_js = next(n for n in written if n.startswith("lib/chart.") and n != "lib/chart.js")
    assert written[hashed_js].endswith("//# sourceMappingURL=chart.js.map")
    hashed_css = next(n for n in written if n.startswith("app.") and n != "app.css")
    hashed_png = next(n for n in written if n.startswith("img/dot.") and n != "img/dot.png")
    assert f'url("{hashed_png}")' in written[hashed_css]
    assert "staticfiles.json" in written


def test_any_other_missing_reference_still_fails(tmp_path):
    with pytest.raises(ValueError, match=r"img/missing\.png"):
        collect(tmp_path, {"app.css": 'body { background: url("img/missing.png"); }'})
