"""The filesystem broker keeps every folder under var/, kombu's control folder included
(its default is `control/` in the working directory, which landed untracked in the checkout)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from kombu import Connection, Exchange, Queue

FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


def test_settings_put_every_broker_folder_under_var():
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}  # the file broker's case
    code = (
        "import json; from config.settings import base; "
        "print(json.dumps([base.CELERY_BROKER_URL, base.CELERY_BROKER_TRANSPORT_OPTIONS]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    url, options = json.loads(out.strip().splitlines()[-1])
    assert url == "filesystem://"
    for name in FOLDERS:
        assert Path(options[name]).parent == Path(settings.BASE_DIR) / "var", name


def test_kombu_writes_its_exchange_table_in_the_control_folder(tmp_path, monkeypatch):
    """The option really is honoured by the installed kombu: a fanout exchange (what Celery's
    remote control declares) lands in control_folder, nothing in the working directory."""
    folders = {name: tmp_path / name for name in FOLDERS}
    for folder in folders.values():
        folder.mkdir()
    workdir = tmp_path / "checkout"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    options = {name: str(path) for name, path in folders.items()}
    with Connection("filesystem://", transport_options=options) as conn:
        exchange = Exchange("celery.pidbox", type="fanout")
        queue = Queue("probe.pidbox", exchange=exchange)
        with conn.Producer() as producer:
            producer.publish({"ping": 1}, exchange=exchange, declare=[queue])
    assert list(workdir.iterdir()) == []
    assert any(folders["control_folder"].iterdir())
