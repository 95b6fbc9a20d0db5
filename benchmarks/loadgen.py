"""The load generator of `make bench`: raw HTTP/1.1 keep-alive clients in their own processes.

Why not httpx in the test process: a client that costs ~0.3 ms of CPU per call, sharing a GIL
with the fake upstream, measures itself. Here each call is one pre-built request written to a
socket and a response parsed just enough to find its end (Content-Length or chunked), so a
client costs a few tens of microseconds per call and never shares a GIL with the fake or with
the worker. Run as `python benchmarks/loadgen.py '<json>'`; it prints one JSON object.

Modes:
- `paired`: one connection to each of two targets, called alternately (both sides see the same
  background load); per-side quantiles of the whole call and, for streams, of the time to the
  first SSE event.
- `load`: `clients` connections split over `processes` processes, `calls` in all, started
  together; calls per second and the failures seen.
"""

import json
import multiprocessing
import os
import socket
import statistics
import sys
import threading
import time
from typing import Any


def request_bytes(target: dict[str, Any]) -> bytes:
    """One POST with a JSON body, keep-alive, the target's headers."""
    body = json.dumps(target["body"]).encode()
    lines = [
        f"POST {target['path']} HTTP/1.1",
        f"Host: {target['host']}:{target['port']}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in target.get("headers", {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """A keep-alive connection that sends one fixed request and reads whole responses."""

    def __init__(self, target: dict[str, Any]) -> None:
        self.address = (target["host"], target["port"])
        self.request = request_bytes(target)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _open(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        return sock

    def _fill(self) -> None:
        data = self.sock.recv(262144)
        if not data:
            raise ConnectionError("connection closed mid-response")
        self.buffer += data

    def _until(self, separator: bytes) -> bytes:
        while (index := self.buffer.find(separator)) < 0:
            self._fill()
        head, self.buffer = self.buffer[:index], self.buffer[index + len(separator) :]
        return head

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def call(self) -> tuple[int, float, float]:
        """(status, seconds to the first SSE event or to the end, seconds to the end)."""
        if self.sock is None:
            self.sock = self._open()
        started = time.perf_counter()
        self.sock.sendall(self.request)
        head = self._until(b"\r\n\r\n").lower()
        status = int(head[9:12])
        first = None
        if b"transfer-encoding: chunked" in head:
            while True:
                size = int(self._until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    self._until(b"\r\n")
                    break
                chunk = self._exactly(size + 2)
                if first is None and b"data:" in chunk:
                    first = time.perf_counter()
        else:
            start = head.index(b"content-length:") + 15
            end = head.find(b"\r\n", start)
            self._exactly(int(head[start : end if end >= 0 else None]))
        ended = time.perf_counter()
        if b"connection: close" in head:
            self.sock.close()
            self.sock = None
        return status, (first or ended) - started, ended - started

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def quantiles(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99 in milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p90": cuts[89] * 1000, "p99": cuts[98] * 1000}


def paired(spec: dict[str, Any]) -> dict[str, Any]:
    sides = [Connection(spec["a"]), Connection(spec["b"])]
    first: list[list[float]] = [[], []]
    whole: list[list[float]] = [[], []]
    failures = 0
    for _ in range(spec.get("warmup", 20)):
        for side in sides:
            side.call()
    for _ in range(spec["calls"]):
        for index, side in enumerate(sides):
            status, to_first, to_end = side.call()
            failures += status != 200
            first[index].append(to_first)
            whole[index].append(to_end)
    for side in sides:
        side.close()
    return {
        "failures": failures,
        "a": {"whole": quantiles(whole[0]), "first": quantiles(first[0])},
        "b": {"whole": quantiles(whole[1]), "first": quantiles(first[1])},
    }


def _load_process(target: dict, clients: int, calls: int, ready: Any, go: Any, out: Any) -> None:
    """`clients` threads, each with its own connection, `calls` calls between them."""
    connections = [Connection(target) for _ in range(clients)]
    for connection in connections:
        connection.sock = connection._open()
    counts = [calls // clients + (i < calls % clients) for i in range(clients)]
    failures: list[str] = []

    def run(connection: Connection, count: int) -> None:
        try:
            for _ in range(count):
                status, _, _ = connection.call()
                if status != 200:
                    failures.append(f"status {status}")
        except Exception as exc:  # reported to the parent, which fails the bench
            failures.append(repr(exc))

    threads = [
        threading.Thread(target=run, args=pair) for pair in zip(connections, counts, strict=True)
    ]
    ready.put(os.getpid())
    go.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((time.perf_counter(), failures[:5], len(failures)))
    for connection in connections:
        connection.close()


def load(spec: dict[str, Any]) -> dict[str, Any]:
    clients, calls = spec["clients"], spec["calls"]
    processes = max(1, min(spec.get("processes", 2), clients))
    context = multiprocessing.get_context("fork")
    ready, out, go = context.Queue(), context.Queue(), context.Event()
    shares = [clients // processes + (i < clients % processes) for i in range(processes)]
    workers = [
        context.Process(
            target=_load_process,
            args=(spec["target"], share, calls * share // clients, ready, go, out),
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=60)
    started = time.perf_counter()
    go.set()
    results = [out.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = max(ended for ended, _, _ in results) - started
    done = sum(calls * share // clients for share in shares)
    return {
        "calls": done,
        "seconds": elapsed,
        "rate": done / elapsed,
        "failures": sum(count for _, _, count in results),
        "failure_samples": [sample for _, samples, _ in results for sample in samples],
    }


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    if spec.get("cpus"):
        os.sched_setaffinity(0, spec["cpus"])
    result = {"paired": paired, "load": load}[spec["mode"]](spec)
    print(json.dumps(result))
