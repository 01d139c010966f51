#!/usr/bin/env python3
"""git-http-server.py ROOT PORT TOKEN: serve the bare repositories under ROOT over Git's
dumb HTTP protocol (run `git update-server-info` in each) on 127.0.0.1:PORT, answering 401
to any request without "Authorization: basic base64(x-access-token:TOKEN)" — the header
BuildKit sends for a GIT_AUTH_TOKEN secret."""
import base64, http.server, sys

root, port, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
want = "basic " + base64.b64encode(b"x-access-token:" + token.encode()).decode()


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)

    def do_GET(self):
        if self.headers.get("Authorization", "").lower() != want.lower():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.end_headers()
            return
        super().do_GET()


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
