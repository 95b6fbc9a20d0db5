"""The OpenAI fake (tests/fakes/openai_server.py) in a process of its own, for `make bench`.

In the test process the fake's threads share a GIL with the load generator and with pytest, so
the floor ("straight to the fake") measured the GIL, not the fake. Here it runs alone, pinned
to the given CPUs, answering at once; it keeps no log of requests (the suite's fake records
each one, which over 50,000 calls is memory the bench does not need). It prints its URL, then
serves until stdin closes (the bench ends it by closing the pipe, or by SIGTERM).

`python -m benchmarks.fake_upstream [cpu,...]`
"""

import os
import sys

from tests.fakes.base import Faults, RecordedRequest
from tests.fakes.openai_server import OpenAIFakeServer


class BenchFake(OpenAIFakeServer):
    """Answers every request as the suite's fake does, without recording it."""

    def _next_faults(self, request: RecordedRequest) -> Faults | None:
        return None


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1]:
        os.sched_setaffinity(0, {int(cpu) for cpu in sys.argv[1].split(",")})
    server = BenchFake().start()
    print(f"{server.url} {server.api_key}", flush=True)
    sys.stdin.read()  # until the bench closes the pipe
    server.stop()


if __name__ == "__main__":
    main()
