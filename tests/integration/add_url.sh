#!/usr/bin/env bash
# ADD <url> over the registry's transport: a private CA through SSL_CERT_FILE, a retry after
# a 503, Last-Modified, --checksum, and HTTP errors with their status.
. tests/lib.sh
dir=$(scratch_dir)
(
  cd "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=slipway-add-test-ca
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1
  printf 'subjectAltName=IP:127.0.0.1\n' > san.ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile san.ext
) >/dev/null 2>&1 || { fail "test CA and server certificate"; exit 0; }
mkdir -p "$dir/www/dl"
echo "served over TLS" > "$dir/www/dl/tool.txt"
touch -d @1650000000 "$dir/www/dl/tool.txt"
python3 "$TOP/tests/helpers/https-files.py" "$dir/port" "$dir/www" "$dir/srv.pem" "$dir/srv.key" 2>"$dir/server.err" &
pid=$!
on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
for _ in $(seq 1 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
[ -s "$dir/port" ] || { fail "https server starts" "$(cat "$dir/server.err")"; exit 0; }
base=https://127.0.0.1:$(cat "$dir/port")
state=$dir/state
build() { timeout 120 "$SLIPWAY" build --progress=plain --state-dir "$state" "$@"; }
export -f build; export SLIPWAY state

sum=$(sha256sum "$dir/www/dl/tool.txt" | cut -d' ' -f1)
ctx=$dir/ctx; mkdir -p "$ctx"
cat > "$ctx/Dockerfile" <<DF
FROM scratch
ADD $base/dl/tool.txt /plain/
ADD --checksum=sha256:$sum $base/flaky/dl/tool.txt /retried/
DF
check "ADD https:// with a private CA given by SSL_CERT_FILE (and a 503 retried)" \
  env SSL_CERT_FILE="$dir/ca.pem" bash -c 'build -o "type=local,dest=$1" "$2"' _ "$dir/out" "$ctx"
check "the download has the served bytes" bash -c '[ "$(cat '"$dir"'/out/plain/tool.txt)" = "served over TLS" ]'
check "its mtime is the Last-Modified" bash -c '[ "$(stat -c %Y '"$dir"'/out/plain/tool.txt)" = 1650000000 ]'
check "the URL that answered 503 first was retried and verified by --checksum" \
  bash -c '[ "$(cat '"$dir"'/out/retried/tool.txt)" = "served over TLS" ] && [ "$(grep -c "^/flaky/dl/tool.txt$" '"$dir"'/port.log)" = 2 ]'

out=$(env -u SSL_CERT_FILE bash -c 'build -o "type=local,dest=$1" "$2"' _ "$dir/out2" "$ctx" 2>&1); rc=$?
check "without the CA the download fails with a TLS error that says what to do" \
  bash -c '[ '$rc' -ne 0 ] && grep -q "SSL_CERT_FILE" <<<"$1"' _ "$out"

printf 'FROM scratch\nADD %s/nope.txt /\n' "$base" > "$ctx/Dockerfile"
out=$(SSL_CERT_FILE="$dir/ca.pem" bash -c 'build -o "type=local,dest=$1" "$2"' _ "$dir/out3" "$ctx" 2>&1); rc=$?
check "a 404 is an error naming the URL and the status" \
  bash -c '[ '$rc' -ne 0 ] && grep -q "nope.txt.*invalid response status 404" <<<"$1"' _ "$out"
