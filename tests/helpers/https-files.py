#!/usr/bin/env python3
"""A static file server over HTTPS for tests: https-files.py PORTFILE DIR CERT KEY.

Serves DIR (with Last-Modified, as http.server does).  /flaky/PATH answers 503 to its
first request, then serves PATH; every request line is appended to PORTFILE.log."""
import http.server, os, ssl, sys

portfile, root, cert, key = sys.argv[1:5]
seen = set()

class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)

    def log_message(self, *a):
        pass

    def do_GET(self):
        with open(portfile + ".log", "a") as log:
            log.write(self.path + "\n")
        if self.path.startswith("/flaky/"):
            if self.path not in seen:
                seen.add(self.path)
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.path = self.path[len("/flaky"):]
        super().do_GET()

s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
