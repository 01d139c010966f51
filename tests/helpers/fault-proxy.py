#!/usr/bin/env python3
"""fault-proxy.py PORTFILE UPSTREAM RULE…: a reverse proxy in front of a registry that
injects faults, for the registry client's tests.  Listens on a free loopback port (written
to PORTFILE) and forwards every request to UPSTREAM (host:port, plain HTTP), keeping the
Host header so the registry's Locations point back through the proxy.

It also works as a forward proxy (http_proxy=http://PROXY): absolute-URL requests go to
UPSTREAM whatever host they name (logged "forward HOST"); CONNECT is refused (502).

A request body sent in HTTP/1.1 chunks (a streamed PATCH) is read whole first and
forwarded with its Content-Length; its size is what the log says.

RULE is KIND@N: the Nth PATCH request (1-based) gets the fault:
  drop      read half the body (a chunked one: all of it), then close the connection
            without an answer (nothing reaches the registry)
  500       answer 500 without forwarding
  429       answer 429 with Retry-After: 1 without forwarding
  401       answer 401 with the challenge the registry last gave (token expiry)
  lost      forward it (the registry takes the bytes), then close the connection without
            the answer: the client must ask where the upload stands and skip what landed
KIND putlost@N does the same to the Nth PUT of an upload (the commit: the blob exists,
the client never heard); put500@N and putdrop@N give that PUT the fault 500 or drop (a
one-chunk blob travels in its PUT's body).  bigput500@N and bigputdrop@N do the same to the
Nth upload PUT whose body is over 4 MiB (a big blob's monolithic PUT), counting only those.
KIND tag500@N answers 500 to every PUT of the Nth distinct tag (a manifest PUT whose
reference is not a digest), retries included, without forwarding: a tag write that fails
for good in the middle of a publish.
KIND@all with KIND 503 answers every request but GET /v2/ with 503 (a registry that
never recovers).  log@all logs every request as "request METHOD PATH body=BYTES"; timed@all
does too, and logs each answer the registry gave, once it came, as "answered METHOD PATH
STATUS t=UNIXTIME" (a timeline: when an upload was complete).  redirect@blobs answers blob GETs with 307 to a second listener (a "CDN"
on another port, with a pre-signed-style ?sig= in the URL) that serves the bytes and logs
"cdn authorization=present|absent" — a client must not send the registry's credentials
there.  Each fault is logged to stderr as "fault KIND on METHOD PATH".
"""
import http.client, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

portfile, upstream, rules = sys.argv[1], sys.argv[2], sys.argv[3:]
faults = {}
always = None
redirect_blobs = log_all = log_answers = False
put_faults = {}
big_put_faults = {}
tag_fault = 0
for r in rules:
    kind, n = r.split("@")
    if kind in ("bigput500", "bigputdrop"):
        big_put_faults[int(n)] = kind[6:]
        continue
    if kind in ("putlost", "put500", "putdrop"):
        put_faults[int(n)] = kind[3:]
        continue
    if kind == "tag500":
        tag_fault = int(n)
        continue
    if kind == "redirect":
        redirect_blobs = True
    elif kind == "log":
        log_all = True
    elif kind == "timed":
        log_all = log_answers = True
    elif n == "all":
        always = kind
    else:
        faults[int(n)] = kind
lock = threading.Lock()
state = {"tags": [], "puts": 0, "bigputs": 0, "patches": 0, "challenge": 'Bearer realm="http://127.0.0.1:1/token",service="x",error="invalid_token"'}


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_CONNECT(self):
        # a forward proxy that does not tunnel: clients fall back to plain HTTP where allowed
        print(f"refused CONNECT {self.path}", file=sys.stderr, flush=True)
        self.reply(502)

    def handle_any(self):
        if self.path.startswith("http://"):
            # used as a forward proxy (http_proxy): the request line has the absolute URL
            rest = self.path[7:]
            print(f"forward {rest.split('/')[0]}", file=sys.stderr, flush=True)
            self.path = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        body = self.read_chunked() if chunked else None
        n = len(body) if chunked else int(self.headers.get("Content-Length") or 0)
        if log_all:
            print(f"request {self.command} {self.path} body={n}", file=sys.stderr, flush=True)
        fault = None
        if always and not (self.command == "GET" and self.path == "/v2/"):
            fault = always
        elif self.command == "PATCH":
            with lock:
                state["patches"] += 1
                fault = faults.get(state["patches"])
        elif self.command == "PUT" and "/blobs/uploads/" in self.path:
            with lock:
                state["puts"] += 1
                fault = put_faults.get(state["puts"])
                if n > 4 << 20:
                    state["bigputs"] += 1
                    fault = fault or big_put_faults.get(state["bigputs"])
        elif self.command == "PUT" and "/manifests/" in self.path and "/manifests/sha256:" not in self.path:
            with lock:
                if self.path not in state["tags"]:
                    state["tags"].append(self.path)
                if tag_fault and state["tags"].index(self.path) + 1 == tag_fault:
                    fault = "500"
        if fault:
            print(f"fault {fault} on {self.command} {self.path.split('?')[0]}", file=sys.stderr, flush=True)
        if redirect_blobs and self.command == "GET" and "/blobs/sha256:" in self.path:
            with lock:
                sig = str(len(signed))
                signed[sig] = (self.path, self.headers.get("Authorization"))
            return self.reply(307, [("Location", f"http://127.0.0.1:{cdn.server_address[1]}/cdn?sig={sig}")])
        if fault == "drop":
            if not chunked:
                self.rfile.read(n // 2)
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if body is None:
            body = self.rfile.read(n) if n else b""
        if fault in ("500", "503"):
            return self.reply(int(fault))
        if fault == "429":
            return self.reply(429, [("Retry-After", "1")])
        if fault == "401":
            return self.reply(401, [("WWW-Authenticate", state["challenge"])])
        host, port = upstream.split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=120)
        c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in self.headers.items():
            if k.lower() not in ("connection", "content-length", "transfer-encoding"):
                c.putheader(k, v)
        c.putheader("Content-Length", str(len(body)))
        c.endheaders()
        c.send(body)
        r = c.getresponse()
        data = r.read()
        if log_answers:
            print(f"answered {self.command} {self.path} {r.status} t={time.time():.3f}", file=sys.stderr, flush=True)
        if fault == "lost":
            c.close()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if r.status == 401 and r.getheader("WWW-Authenticate"):
            state["challenge"] = r.getheader("WWW-Authenticate").replace('error="insufficient_scope",', "")
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("connection", "content-length", "transfer-encoding"):
                self.send_header(k, v)
        length = r.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        c.close()

    def read_chunked(self):
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = handle_any


signed = {}


class Cdn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        print(f"cdn authorization={'present' if self.headers.get('Authorization') else 'absent'}",
              file=sys.stderr, flush=True)
        sig = self.path.split("sig=")[-1]
        path, auth = signed[sig]
        host, port = upstream.split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=120)
        c.request("GET", path, headers={"Authorization": auth} if auth else {})
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


cdn = ThreadingHTTPServer(("127.0.0.1", 0), Cdn)
cdn.daemon_threads = True
threading.Thread(target=cdn.serve_forever, daemon=True).start()
srv = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
srv.daemon_threads = True
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
