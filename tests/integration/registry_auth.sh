#!/usr/bin/env bash
# Authentication against real registries: htpasswd Basic over TLS with a CA made here,
# and the Bearer token flow with the registry's token auth and a small token server
# (tests/helpers/token-server.py); login/logout writing config.json; a 401 in the middle
# of a push (token expiry, injected by tests/helpers/fault-proxy.py); no secret in output.
. tests/lib.sh
export SLIPWAY
command -v docker-registry >/dev/null || { skip registry_auth "docker-registry not installed"; exit 0; }
work=$(scratch_dir)
export DOCKER_CONFIG=$work/docker
start_registry "$work/plain" || { fail "registry starts"; exit 0; }
P=$REGISTRY
python3 tests/helpers/push-random-image.py "$P" src/img:1 3 >/dev/null 2>&1

# ---- TLS + htpasswd ----
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=slipway-test-ca
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1
  printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile san.ext
  htpasswd -Bbn alice 's3cret-P4ss' > htpasswd
) >/dev/null 2>&1
start_registry_ext "$work/tls" https "  tls: { certificate: $work/srv.pem, key: $work/srv.key }" \
  "auth: { htpasswd: { realm: test, path: $work/htpasswd } }" || { fail "TLS registry starts"; exit 0; }
T=$REGISTRY

check "TLS without the CA: clear error naming SSL_CERT_FILE" bash -c '
  out=$("$SLIPWAY" imagetools inspect '"$T"'/x:1 2>&1); [ $? -ne 0 ] && grep -q "SSL_CERT_FILE" <<<"$out"'
export SSL_CERT_FILE=$work/ca.pem
check "TLS with the CA, no credentials: authentication required" bash -c '
  out=$("$SLIPWAY" imagetools create -t '"$T"'/x:1 '"$P"'/src/img:1 2>&1); [ $? -ne 0 ] && grep -q "HTTP 401" <<<"$out"'
check "login with a wrong password fails and writes nothing" bash -c '
  out=$(echo wrong | "$SLIPWAY" login -u alice --password-stdin '"$T"' 2>&1); [ $? -ne 0 ] &&
  grep -q "refused the credentials" <<<"$out" && [ ! -e "$DOCKER_CONFIG/config.json" ]'
check "login --password-stdin writes config.json as docker does" bash -c '
  out=$(echo "s3cret-P4ss" | "$SLIPWAY" login -u alice --password-stdin '"$T"' 2>&1) && grep -q "Login Succeeded" <<<"$out" &&
  [ "$(jq -r ".auths[\"'"$T"'\"].auth" "$DOCKER_CONFIG/config.json" | base64 -d)" = "alice:s3cret-P4ss" ]'
check "push over TLS with Basic credentials from config.json" bash -c '
  "$SLIPWAY" imagetools create -t '"$T"'/x:1 '"$P"'/src/img:1 &&
  [ "$(skopeo inspect --raw --creds alice:s3cret-P4ss --cert-dir '"$work"'/certs docker://'"$T"'/x:1 2>/dev/null || skopeo inspect --raw --creds alice:s3cret-P4ss --tls-verify=false docker://'"$T"'/x:1)" = "$(skopeo inspect --raw --tls-verify=false docker://'"$P"'/src/img:1)" ]'
check "no secret in debug output" bash -c '
  out=$(SLIPWAY_DEBUG=1 "$SLIPWAY" imagetools create -t '"$T"'/y:1 '"$P"'/src/img:1 2>&1); ! grep -q "s3cret" <<<"$out" && ! grep -q "YWxpY2U6czNjcmV0" <<<"$out"'
check "logout removes the credentials" bash -c '
  "$SLIPWAY" logout '"$T"' >/dev/null && [ "$(jq -r ".auths[\"'"$T"'\"]" "$DOCKER_CONFIG/config.json")" = null ] &&
  ! "$SLIPWAY" imagetools inspect '"$T"'/x:1 >/dev/null 2>&1'
unset SSL_CERT_FILE
check "--insecure-registry: TLS without verification" bash -c '
  echo s3cret-P4ss | "$SLIPWAY" login -u alice --password-stdin --insecure-registry '"$T"' '"$T"' >/dev/null &&
  "$SLIPWAY" imagetools inspect --insecure-registry '"$T"' '"$T"'/x:1 | grep -q "^Digest:" &&
  ! "$SLIPWAY" imagetools inspect '"$T"'/x:1 >/dev/null 2>&1'
echo '{"insecure-registries": ["'"$T"'"]}' > "$work/daemon.json"
check "insecure-registries from docker's daemon.json" bash -c '
  SLIPWAY_DAEMON_JSON='"$work"'/daemon.json "$SLIPWAY" imagetools inspect '"$T"'/x:1 | grep -q "^Digest:"'
"$SLIPWAY" logout "$T" >/dev/null

# ---- Bearer tokens ----
(
  cd "$work"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout tok.key -out tok.pem -days 2 -subj /CN=slipway-token-issuer
) >/dev/null 2>&1
pf=$work/token.port
python3 tests/helpers/token-server.py "$pf" "$work/tok.key" "$work/tok.pem" test-issuer bob 'b0b-pw' id-t0ken-for-bob 2>"$work/token.log" &
tpid=$!
on_exit "kill $tpid 2>/dev/null; wait $tpid 2>/dev/null"
for _ in $(seq 1 100); do [ -s "$pf" ] && break; sleep 0.05; done
TP=127.0.0.1:$(cat "$pf")
start_registry_ext "$work/tok" http "" \
  "auth: { token: { realm: http://$TP/token, service: test-registry, issuer: test-issuer, rootcertbundle: $work/tok.pem } }" \
  || { fail "token registry starts"; exit 0; }
K=$REGISTRY

check "anonymous token cannot push: clear error" bash -c '
  out=$("$SLIPWAY" imagetools create -t '"$K"'/t/img:1 '"$P"'/src/img:1 2>&1); [ $? -ne 0 ] && grep -qE "HTTP 40[13]" <<<"$out"'
check "login through the token server" bash -c 'echo b0b-pw | "$SLIPWAY" login -u bob --password-stdin '"$K"' >/dev/null'
check "push with credentialed tokens (refresh token reused)" bash -c '
  "$SLIPWAY" imagetools create -t '"$K"'/t/img:1 '"$P"'/src/img:1 && grep -q "^token refresh" '"$work"'/token.log'
mv "$DOCKER_CONFIG/config.json" "$DOCKER_CONFIG/saved.json"
check "anonymous pull with an anonymous token" bash -c '
  "$SLIPWAY" imagetools inspect '"$K"'/t/img:1 | grep -q "^Digest:" && grep -q "^token anonymous repository:t/img:pull" '"$work"'/token.log'
mv "$DOCKER_CONFIG/saved.json" "$DOCKER_CONFIG/config.json"

start_fault_proxy "$K" 401@3
export SLIPWAY_CHUNK_SIZE=$((1 << 20))
echo b0b-pw | "$SLIPWAY" login -u bob --password-stdin "$PROXY" >/dev/null   # credentials are per host
before=$(grep -c '^token' "$work/token.log")
check "a 401 mid-push (token expiry) re-authenticates and the upload completes" bash -c '
  "$SLIPWAY" imagetools create -t '"$PROXY"'/t2/img:1 '"$P"'/src/img:1 && grep -q "fault 401 on PATCH" '"$PROXY_LOG"' &&
  [ "$(grep -c "^token" '"$work"'/token.log)" -gt '"$before"' ] &&
  [ "$(skopeo inspect --raw --tls-verify=false --creds bob:b0b-pw docker://'"$K"'/t2/img:1)" = "$(skopeo inspect --raw --tls-verify=false docker://'"$P"'/src/img:1)" ]'
check "no secret in the token server's view of the logs" bash -c '! grep -q "b0b-pw" '"$work"'/token.log'

# blob GETs redirected to another host (a CDN) carry no Authorization there
start_fault_proxy "$K" redirect@blobs
echo b0b-pw | "$SLIPWAY" login -u bob --password-stdin "$PROXY" >/dev/null
check "redirected blob GETs: followed, without the registry's Authorization" bash -c '
  "$SLIPWAY" imagetools create -t '"$P"'/redir/img:1 '"$PROXY"'/t/img:1 &&
  grep -q "^cdn authorization=absent" '"$PROXY_LOG"' && ! grep -q "^cdn authorization=present" '"$PROXY_LOG"' &&
  [ "$(skopeo inspect --raw --tls-verify=false docker://'"$P"'/redir/img:1)" = "$(skopeo inspect --raw --tls-verify=false docker://'"$P"'/src/img:1)" ]'

# credential helpers: credHelpers[host] → docker-credential-NAME get
mkdir -p "$work/bin"
cat > "$work/bin/docker-credential-slipwaytest" <<'SH'
#!/bin/sh
read -r host
[ "$1" = get ] || exit 1
echo "$host" >> "$(dirname "$0")/helper.log"
printf '{"ServerURL":"%s","Username":"bob","Secret":"b0b-pw"}\n' "$host"
SH
chmod +x "$work/bin/docker-credential-slipwaytest"
mv "$DOCKER_CONFIG/config.json" "$DOCKER_CONFIG/saved.json"
printf '{"credHelpers":{"%s":"slipwaytest"}}\n' "$K" > "$DOCKER_CONFIG/config.json"
check "credentials from a credential helper (credHelpers)" bash -c '
  PATH='"$work"'/bin:$PATH "$SLIPWAY" imagetools create -t '"$K"'/helper/img:1 '"$P"'/src/img:1 &&
  grep -qx "'"$K"'" '"$work"'/bin/helper.log'
printf '{"credsStore":"missing-helper"}\n' > "$DOCKER_CONFIG/config.json"
check "a credsStore whose helper is missing: clear error" bash -c '
  out=$("$SLIPWAY" imagetools create -t '"$K"'/helper/img:2 '"$P"'/src/img:1 2>&1); [ $? -ne 0 ] &&
  grep -q "docker-credential-missing-helper not found" <<<"$out"'
mv "$DOCKER_CONFIG/saved.json" "$DOCKER_CONFIG/config.json"

# an identity token in config.json is used as an OAuth2 refresh token
mv "$DOCKER_CONFIG/config.json" "$DOCKER_CONFIG/saved.json"
printf '{"auths":{"%s":{"auth":"","identitytoken":"id-t0ken-for-bob"}}}\n' "$K" > "$DOCKER_CONFIG/config.json"
n=$(grep -c '^token refresh' "$work/token.log")
check "identitytoken from config.json (refresh-token grant)" bash -c '
  out=$(SLIPWAY_DEBUG=1 "$SLIPWAY" imagetools create -t '"$K"'/idt/img:1 '"$P"'/src/img:1 2>&1) &&
  [ "$(grep -c "^token refresh" '"$work"'/token.log)" -gt '"$n"' ] && ! grep -q "id-t0ken" <<<"$out"'
mv "$DOCKER_CONFIG/saved.json" "$DOCKER_CONFIG/config.json"
