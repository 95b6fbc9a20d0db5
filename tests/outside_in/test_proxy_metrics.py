"""/metrics through nginx: every client reaches gunicorn from 127.0.0.1, so the application's
loopback allow-list would admit anyone; the shipped proxy config lets only this host through.
A client on another address (127.0.0.2: loopback to the kernel, but not 127.0.0.1 to nginx)
gets a 403 in the error shape and never reaches gunicorn."""

import httpx2


def test_metrics_through_the_proxy_only_from_this_host(stack):
    before = stack.processes["gunicorn"].log(tail=10**7).count("GET /metrics")
    transport = httpx2.HTTPTransport(local_address="127.0.0.2")
    with httpx2.Client(base_url=stack.url, transport=transport, timeout=10) as outsider:
        refused = outsider.get("/metrics")
        assert outsider.get("/healthz").status_code == 200  # the rest is served as usual
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "permission_denied"
    assert stack.processes["gunicorn"].log(tail=10**7).count("GET /metrics") == before
