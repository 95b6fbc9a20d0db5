"""The shipped nginx site (deploy/nginx/control-plane.conf) is valid as installed: `nginx -t`
on it, with its snippet under snippets/ and a throwaway certificate in place of the real one."""

import subprocess

from tests.outside_in.conftest import require_stack_tools
from tests.outside_in.stack import NGINX_SNIPPET, REPO, nginx_binary
from tests.tls import self_signed

SITE = REPO / "deploy" / "nginx" / "control-plane.conf"


def test_shipped_site_passes_nginx_t(tmp_path):
    require_stack_tools(nginx_only=True)
    cert, key = self_signed("control-plane.example.com", tmp_path)
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / NGINX_SNIPPET.name).write_text(NGINX_SNIPPET.read_text())
    site = SITE.read_text()
    assert "include snippets/control-plane-proxy.conf;" in site
    site = site.replace("/etc/ssl/certs/control-plane.pem", cert)
    site = site.replace("/etc/ssl/private/control-plane.key", key)
    (tmp_path / "site.conf").write_text(site)
    temp = tmp_path / "temp"
    temp.mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\nhttp {{\n"
        + "".join(
            f"    {kind}_temp_path {temp}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"    include {tmp_path}/site.conf;\n}}\n"
    )
    command = [nginx_binary(), "-t", "-c", str(tmp_path / "nginx.conf")]
    done = subprocess.run(
        [*command, "-p", f"{tmp_path}/", "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr
