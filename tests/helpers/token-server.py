#!/usr/bin/env python3
"""token-server.py PORTFILE KEY CERT ISSUER USER PASSWORD [REFRESH]: a small Docker token server
(the registry's "token" auth) for the registry client's tests.  Listens on a free loopback
port (written to PORTFILE).

GET  /token?service=S&scope=…[&offline_token=true]  anonymous: pull only;
     with Basic USER:PASSWORD: pull and push (and a refresh_token when offline_token=true);
     wrong credentials: 401.
POST /token  grant_type=refresh_token&refresh_token=…&service=&scope=…: a token for a
     refresh token this server issued (or REFRESH: an identity token a test puts in
     config.json).
Tokens are RS256 JWTs with the certificate in x5c (signed with `openssl dgst`), valid 300 s.
Each request is logged to stderr as "token KIND SCOPES" (never the secrets).
"""
import base64, json, os, secrets, subprocess, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

portfile, key, cert, issuer, user, password = sys.argv[1:7]
fixed_refresh = sys.argv[7] if len(sys.argv) > 7 else None
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], check=True, capture_output=True).stdout
refresh_tokens = {fixed_refresh} if fixed_refresh else set()

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def make_token(service, scopes, who, can_push):
    access = []
    for sc in scopes:
        parts = sc.split(":")
        if len(parts) < 3:
            continue
        typ, name, actions = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
        allowed = [a for a in actions if a == "pull" or (a == "push" and can_push)]
        access.append({"type": typ, "name": name, "actions": allowed})
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    claims = {"iss": issuer, "sub": who, "aud": service, "exp": now + 300, "nbf": now - 10, "iat": now,
              "jti": secrets.token_hex(8), "access": access}
    signing_input = (b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input, check=True,
                         capture_output=True).stdout
    return signing_input.decode() + "." + b64(sig)

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        scopes, service = q.get("scope", []), q.get("service", [""])[0]
        auth = self.headers.get("Authorization", "")
        who, can_push = "", False
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if (u, p) != (user, password):
                print("token refused", file=sys.stderr, flush=True)
                return self.answer(401, {"details": "bad credentials"})
            who, can_push = u, True
        print(f"token {'basic' if who else 'anonymous'} {' '.join(scopes)}", file=sys.stderr, flush=True)
        out = {"token": make_token(service, scopes, who, can_push), "expires_in": 300}
        if who and q.get("offline_token", [""])[0] == "true":
            rt = secrets.token_hex(16)
            refresh_tokens.add(rt)
            out["refresh_token"] = rt
        self.answer(200, out)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        f = urllib.parse.parse_qs(self.rfile.read(n).decode())
        if f.get("grant_type", [""])[0] != "refresh_token" or f.get("refresh_token", [""])[0] not in refresh_tokens:
            print("token refused-refresh", file=sys.stderr, flush=True)
            return self.answer(401, {"details": "bad refresh token"})
        scopes = f.get("scope", [])
        print(f"token refresh {' '.join(scopes)}", file=sys.stderr, flush=True)
        self.answer(200, {"access_token": make_token(f.get("service", [""])[0], scopes, user, True), "expires_in": 300})

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
with open(portfile + ".tmp", "w") as fh:
    fh.write(str(srv.server_address[1]))
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
