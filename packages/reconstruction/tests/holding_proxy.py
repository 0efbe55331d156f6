"""An HTTP proxy in front of a real S3 server that can hold chosen requests until the test releases them.

Why: cancellation, the per-job timeout and a restart in the middle of a job must be tested on a job that is
provably still running when the test acts. Hoping that COLMAP is still busy is a race (a fast machine finished
the small set in 2 s and the "timeout" test saw an SfM failure instead). A store that does not answer is also a
real failure mode of its own: the job must still be killed at its deadline.

Everything else goes through unchanged (method, path, headers including Host, body), so SigV4 signatures made
for the proxy's address stay valid. The standard library has no forwarding proxy, hence this small one.
"""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Hop-by-hop headers are the proxy's own business; Expect is answered by http.server before the body is read.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade", "expect"}


class HoldingProxy:
    def __init__(self, upstream: str) -> None:
        target = urlsplit(upstream)
        self.upstream_host, self.upstream_port = target.hostname or "127.0.0.1", target.port or 80
        self.released = threading.Event()
        self.held_count = 0
        self._held_changed = threading.Condition()
        self._should_hold: Callable[[str, str], bool] = lambda method, path: False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="holding-proxy", daemon=True)

    def hold(self, predicate: Callable[[str, str], bool]) -> None:
        """Hold every request for which predicate(method, path_with_query) is true, until release()."""
        self._should_hold = predicate
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def wait_until_held(self, count: int = 1, timeout: float = 120) -> None:
        """Block until `count` requests in total have been held: the client is then provably waiting on us."""
        with self._held_changed:
            if not self._held_changed.wait_for(lambda: self.held_count >= count, timeout):
                raise AssertionError(f"no request was held within {timeout}s (held {self.held_count}, wanted {count})")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                if proxy._should_hold(self.command, self.path):
                    with proxy._held_changed:
                        proxy.held_count += 1
                        proxy._held_changed.notify_all()
                    proxy.released.wait()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=60)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    reply = upstream.getresponse()
                    payload = reply.read()
                    self.send_response(reply.status, reply.reason)
                    for key, value in reply.getheaders():
                        if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (ConnectionError, OSError):
                    self.close_connection = True  # the client went away while held (it was killed): nothing to answer
                finally:
                    upstream.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward

        return Handler

    def start(self) -> HoldingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()  # held handlers finish (into closed sockets) instead of hanging the shutdown
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def holding_proxy(upstream: str) -> Iterator[HoldingProxy]:
    proxy = HoldingProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()


def reads_of(bucket: str, prefix: str) -> Callable[[str, str], bool]:
    """A hold predicate: any request that reads or lists `bucket/prefix` (the job's input)."""

    def predicate(method: str, path: str) -> bool:
        if method not in ("GET", "HEAD"):
            return False
        parts = urlsplit(path)
        return parts.path.startswith(f"/{bucket}/{prefix}/") or (
            parts.path.rstrip("/") == f"/{bucket}" and f"prefix={prefix}" in parts.query
        )

    return predicate
