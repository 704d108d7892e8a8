"""The dedicated OsmAnd/Traccar port (Traccar's 5055): one event loop in one thread, no thread per phone.

City rate is 20,000 phones sending one fix every 10 s: 2,000 requests a second, each a few hundred bytes. A
thread per connection (the Werkzeug server, ~800 trivial requests/s on the 2-core box) spends its time in
HTTP plumbing; here an asyncio loop reads each request, decodes it with the same code as ``/osmand``
(``api/osmand.prepare``), hands the fixes to the group commit without waiting (``GroupCommit.submit_nowait``)
and writes the answer when the writer thread reports the commit that holds them — still after the commit.

The HTTP it speaks is the small part of HTTP/1.1 that OsmAnd and the Traccar clients use, strictly:
a request line and headers up to ``MAX_HEAD`` bytes, a body only with ``Content-Length`` (``Transfer-Encoding``
is refused with 411, so no request can be smuggled past a proxy), GET and POST (405 otherwise), keep-alive
(HTTP/1.1 by default, HTTP/1.0 on request), one request at a time per connection (pipelined ones wait their
turn, in order). A connection idle for ``idle_s`` or slower than ``read_s`` to send a whole request is closed;
past ``max_conns`` open connections a new one gets 503 and is closed. Refusals are the API's JSON error naming
the field, as on the main port.
"""
from __future__ import annotations

import asyncio
import collections
import io
import logging
import socket
import threading
import time

from ..services.group_commit import GroupCommit, Ticket
from .osmand import BODY_PER_FIX, Reply, outcome, prepare

log = logging.getLogger(__name__)

MAX_HEAD = 8192      # request line + headers (a Traccar request is ~300 bytes)
MAX_HEADERS = 64


def _encode(r: Reply, keep: bool) -> bytes:
    head = [f"HTTP/1.1 {r.status_line()}"]
    head += [f"{k}: {v}" for k, v in r.wsgi_headers()]
    head.append("Connection: keep-alive" if keep else "Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + r.body


class _Request(Exception):
    """A request this port refuses before decoding it; the connection closes after the answer."""

    def __init__(self, status: int, message: str, field: str | None) -> None:
        super().__init__(message)
        self.reply = Reply.refuse(status, message, field)


class OsmandPort:
    """The listening port and its loop; ``start()`` runs it in a daemon thread."""

    def __init__(self, services, host: str, port: int, batcher: GroupCommit, *, max_conns: int = 20_000,
                 idle_s: float = 75.0, read_s: float = 15.0) -> None:
        self.batcher, self.max_fixes = batcher, services.settings.osmand_max_fixes
        self.body_limit = self.max_fixes * BODY_PER_FIX
        self.max_conns, self.idle_s, self.read_s = max_conns, idle_s, read_s
        self.stop_event = services.stop
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, port), family=family, backlog=4096)  # fails here: port in use
        self.port = self.sock.getsockname()[1]
        self.conns: set[_Conn] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        # answers the writer thread has released, drained by the loop: one wake-up per commit, not one per fix
        self.released: collections.deque[tuple[_Conn, Ticket, bool, bool]] = collections.deque()
        self.wake_pending = False
        self.thread: threading.Thread | None = None

    def start(self) -> threading.Thread:
        self.thread = threading.Thread(target=self._run, name=f"osmand-{self.port}", daemon=True)
        self.thread.start()
        return self.thread

    def _run(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        finally:
            loop.close()

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Conn(self), sock=self.sock)
        try:
            while not self.stop_event.is_set():
                await asyncio.sleep(1.0)
                self._sweep(time.monotonic())
        finally:
            server.close()
            for c in list(self.conns):
                c.close()

    def release(self, conn: "_Conn", t: Ticket, is_json: bool, keep: bool) -> None:
        """From the writer thread, after the commit: queue the answer and wake the loop once for the lot."""
        self.released.append((conn, t, is_json, keep))
        if not self.wake_pending:
            self.wake_pending = True
            assert self.loop is not None
            try:
                self.loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop has stopped (shutdown): nobody is waiting
                pass

    def _drain(self) -> None:
        self.wake_pending = False  # before draining: a release racing with this schedules another drain
        while self.released:
            conn, t, is_json, keep = self.released.popleft()
            conn.answered(t, is_json, keep)

    def _sweep(self, now: float) -> None:
        """Close connections idle too long, or sending a request too slowly (a slow-loris holds nothing)."""
        for c in list(self.conns):
            if c.busy:
                continue
            limit = self.read_s if c.buf else self.idle_s
            if now - c.since > limit:
                c.close()


class _Conn(asyncio.Protocol):
    __slots__ = ("srv", "transport", "buf", "busy", "since", "closed", "peer", "paused")

    def __init__(self, srv: OsmandPort) -> None:
        self.srv = srv
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.busy = False          # a request is with the group commit: the next waits (answers stay in order)
        self.since = time.monotonic()
        self.closed = False
        self.peer = ""
        self.paused = False

    # -- asyncio.Protocol ----------------------------------------------------------------------------------

    def connection_made(self, transport) -> None:  # noqa: ANN001
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        if len(self.srv.conns) >= self.srv.max_conns:
            transport.write(_encode(Reply.refuse(503, "too many connections; retry", None), False))
            self.close()
            return
        self.srv.conns.add(self)

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        if not self.buf:
            self.since = time.monotonic()  # a request starts: it has read_s to arrive whole
        self.buf += data
        if not self.busy:
            self._next()
        if len(self.buf) > MAX_HEAD + self.srv.body_limit and not self.paused and self.transport is not None:
            self.transport.pause_reading()  # a pipelining client waits for its answers
            self.paused = True

    def connection_lost(self, exc) -> None:  # noqa: ANN001
        self.closed = True
        self.srv.conns.discard(self)

    # -- requests ------------------------------------------------------------------------------------------

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.srv.conns.discard(self)
            if self.transport is not None:
                self.transport.close()

    def _send(self, r: Reply, keep: bool) -> None:
        if self.closed or self.transport is None:
            return
        self.transport.write(_encode(r, keep))
        if not keep:
            self.close()

    def _next(self) -> None:
        """Take the next whole request from the buffer, if there is one."""
        while not self.busy and not self.closed:
            try:
                got = self._parse()
            except _Request as bad:
                self._send(bad.reply, False)
                return
            if got is None:
                return
            environ, keep = got
            self.since = time.monotonic()
            if self.paused and self.transport is not None and len(self.buf) <= MAX_HEAD:
                self.transport.resume_reading()
                self.paused = False
            if environ["REQUEST_METHOD"] not in ("GET", "POST"):
                r = Reply.refuse(405, "GET or POST", "method")
                r.headers.append(("Allow", "GET, POST"))
                self._send(r, keep)
                continue
            decoded = prepare(environ, self.srv.max_fixes)
            if isinstance(decoded, Reply):
                self._send(decoded, keep)
                continue
            fixes, token, is_json = decoded
            self.busy = True
            srv = self.srv

            def done(t: Ticket, is_json: bool = is_json, keep: bool = keep) -> None:
                srv.release(self, t, is_json, keep)

            srv.batcher.submit_nowait(fixes, done, token=token)

    def answered(self, t: Ticket, is_json: bool, keep: bool) -> None:
        self.busy = False
        self.since = time.monotonic()
        self._send(outcome(t, is_json), keep)
        if keep and self.buf:
            self._next()

    def _parse(self) -> tuple[dict, bool] | None:
        """(environ, keep-alive) of the first whole request in the buffer; None until it has arrived."""
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise _Request(431, f"request head larger than {MAX_HEAD} bytes", "headers")
            return None
        if end > MAX_HEAD:
            raise _Request(431, f"request head larger than {MAX_HEAD} bytes", "headers")
        lines = buf[:end].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[0].isalpha() or not parts[1]:
            raise _Request(400, "malformed request line", "request")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _Request(400, "HTTP/1.0 or HTTP/1.1 only", "request")
        if len(lines) - 1 > MAX_HEADERS:
            raise _Request(431, f"more than {MAX_HEADERS} headers", "headers")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip() or line[0] in " \t":
                raise _Request(400, "malformed header line", "headers")
            key = name.lower()
            value = value.strip()
            if key in headers:
                if key in ("content-length", "host", "authorization", "content-type"):
                    if headers[key] != value:
                        raise _Request(400, f"conflicting {name} headers", name)
                    continue
                value = headers[key] + ", " + value
            headers[key] = value
        if "transfer-encoding" in headers:
            raise _Request(411, "send the body with Content-Length (no Transfer-Encoding)", "Transfer-Encoding")
        raw_len = headers.get("content-length", "0")
        if not raw_len.isdigit():
            raise _Request(400, "Content-Length is not a number", "Content-Length")
        length = int(raw_len)
        if length > self.srv.body_limit:
            raise _Request(413, f"body larger than {self.srv.body_limit} bytes", "body")
        if len(buf) < end + 4 + length:
            return None
        body = buf[end + 4:end + 4 + length]
        self.buf = buf[end + 4 + length:]
        conn = headers.get("connection", "").lower()
        keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        path, _, query = target.partition("?")
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                   "CONTENT_TYPE": headers.get("content-type", ""), "CONTENT_LENGTH": str(length),
                   "HTTP_HOST": headers.get("host", ""), "REMOTE_ADDR": self.peer,
                   "wsgi.input": io.BytesIO(body)}
        if "authorization" in headers:
            environ["HTTP_AUTHORIZATION"] = headers["authorization"]
        return environ, keep


def serve_port(services, host: str, port: int, batcher: GroupCommit, **kw) -> OsmandPort:
    """Bind ``host:port`` now (an error if it is taken) and serve it from a daemon thread."""
    p = OsmandPort(services, host, port, batcher, **kw)
    p.start()
    log.info("OsmAnd/Traccar positions on http://%s:%d/ (event loop, group commit)", host, p.port)
    return p
