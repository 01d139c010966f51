#!/usr/bin/env bash
# RUN --mount in the sandbox: secret, bind, cache, tmpfs, ssh — and none of it in the layer.
. tests/lib.sh

T=$(scratch_dir)
ST=$T/state
bash tests/fixtures/busybox-rootfs.sh "$T/rootfs"
R=$T/rootfs
run() { rm -rf "$T/up"; mkdir "$T/up"; "$SLIPWAY" debug run --state-dir "$ST" --rootfs "$R" --upper "$T/up" "$@"; }

SECRET="s3cr3t-$RANDOM-$RANDOM-value"
printf '%s' "$SECRET" > "$T/secret.txt"; chmod 600 "$T/secret.txt"
# the step compares digests, so the secret is not in its command line (which a failure prints)
H1=$(printf '%s' "$SECRET" | sha256sum | cut -d' ' -f1)
H2=$(printf '%s' "$SECRET-env" | sha256sum | cut -d' ' -f1)
out=$(SW_TEST_SECRET="$SECRET-env" run --secret id=tok,src="$T/secret.txt" --mount type=secret,id=tok \
      --secret id=envtok,env=SW_TEST_SECRET --mount type=secret,id=envtok,target=/root/.token,uid=1000,mode=0440 \
      -- /bin/sh -c 'sha256sum /run/secrets/tok | grep -q "^'"$H1"' " && echo tok-ok
                     sha256sum /root/.token | grep -q "^'"$H2"' " && echo env-ok
                     stat -c "%a %u %g" /run/secrets/tok /root/.token
                     echo nope > /run/secrets/tok 2>/dev/null || echo read-only
                     exit 7' 2>&1)
if grep -q tok-ok <<<"$out" && grep -q env-ok <<<"$out" && grep -q '^400 0 0$' <<<"$out" \
   && grep -q '^440 1000 0$' <<<"$out" && grep -q read-only <<<"$out"; then
  pass "secrets (file and env) are readable in their RUN, read-only, with their mode and owner"
else fail "secrets are readable in their RUN" "$out"; fi
if ! grep -rqF "$SECRET" "$T/up" && [ -z "$(cd "$T/up" && find . -mindepth 1)" ]; then
  pass "secrets leave nothing in the layer (not even their mountpoints)"
else fail "secrets leave nothing in the layer" "$(cd "$T/up" && find .)"; fi
if ! grep -qF "$SECRET" <<<"$out"; then pass "secrets appear in no log line, failure message included"
else fail "secrets appear in no log line" "$out"; fi
if ! grep -rqsF "$SECRET" "$ST"; then pass "secrets are never written to the state dir"
else fail "secrets are never written to the state dir"; fi

# even a step that prints its secret does not get it into the log: it is masked
printf '%s\nsecond-line-%s\n' "$SECRET" "$RANDOM" > "$T/multi.txt"
out=$(run --secret id=m,src="$T/multi.txt" --mount type=secret,id=m -- /bin/sh -c 'cat /run/secrets/m; echo "x$(head -1 /run/secrets/m)y"; cat /run/secrets/m >&2' 2>&1)
if ! grep -qF "$SECRET" <<<"$out" && ! grep -q 'second-line-' <<<"$out" && grep -q '^x\*\*\*\*y$' <<<"$out" \
   && [ "$(grep -c '^\*\*\*\*$' <<<"$out")" = 4 ]; then
  pass "a secret the step prints is masked in its output, line by line"
else fail "a secret the step prints is masked" "$(sed "s/$SECRET/<SECRET>/g" <<<"$out")"; fi

out=$(run --mount type=secret,id=missing,required -- true 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'secret missing: not found' <<<"$out"; then pass "a required secret that is not given is an error"
else fail "a required secret that is not given is an error" "$out"; fi
out=$(run --mount type=secret,id=optional -- /bin/sh -c 'test -e /run/secrets/optional || echo absent' 2>&1)
if [ "$out" = absent ]; then pass "an optional secret that is not given is absent"
else fail "an optional secret that is not given is absent" "$out"; fi

# bind: from the context, read-only unless rw (and rw writes are discarded), never outside
mkdir -p "$T/ctx/sub"; echo hello > "$T/ctx/sub/f"; ln -s ../../../../../../etc "$T/ctx/escape"
out=$(run --context "$T/ctx" --mount type=bind,source=sub,target=/src \
      --mount type=bind,target=/ctxrw,rw -- /bin/sh -c 'cat /src/f; touch /src/x 2>/dev/null || echo ro; echo w > /ctxrw/new && echo rw-ok' 2>&1)
if [ "$out" = "$(printf 'hello\nro\nrw-ok')" ] && [ ! -e "$T/ctx/new" ] && [ ! -e "$T/ctx/sub/x" ] \
   && [ -z "$(cd "$T/up" && find . -mindepth 1)" ]; then
  pass "bind mounts: read-only by default, rw writes go nowhere, nothing in the layer"
else fail "bind mounts" "$out; ctx: $(ls "$T/ctx"); upper: $(cd "$T/up" && find .)"; fi
if [ -e "$T/ctx/new" ]; then rm -f "$T/ctx/new"; fi
out=$(run --context "$T/ctx" --mount type=bind,source=escape/passwd,target=/p -- cat /p 2>&1); rc=$?
if [ $rc -ne 0 ] && ! grep -q '^root:' <<<"$out"; then pass "a bind source cannot escape its context through symlinks"
else fail "a bind source cannot escape its context" "$out"; fi

# cache: persists across runs, owned as asked, in the state dir, not in the layer
run --mount type=cache,id=c1,target=/cache,uid=1000,gid=1000,mode=0750 -- /bin/sh -c 'echo 1 >> /cache/log' >/dev/null 2>&1
out=$(run --mount type=cache,id=c1,target=/var/cache/x -- /bin/sh -c 'echo 2 >> /var/cache/x/log; cat /var/cache/x/log; stat -c "%u %g %a" /var/cache/x' 2>&1)
if [ "$out" = "$(printf '1\n2\n1000 1000 750')" ] && [ -z "$(cd "$T/up" && find . -mindepth 1)" ]; then
  pass "cache mounts persist across steps with their uid/gid/mode and stay out of the layer"
else fail "cache mounts persist across steps" "$out; upper: $(cd "$T/up" && find .)"; fi
out=$(run --mount type=cache,id=c2,target=/c,sharing=locked -- /bin/sh -c 'echo ok > /c/f; cat /c/f' 2>&1)
if [ "$out" = ok ]; then pass "a locked cache mount works"; else fail "a locked cache mount works" "$out"; fi

# tmpfs
out=$(run --mount type=tmpfs,target=/scratch,size=1M -- /bin/sh -c 'echo x > /scratch/f; df -k /scratch | tail -1' 2>&1)
if grep -qE '^tmpfs +1024 ' <<<"$out" && [ -z "$(cd "$T/up" && find . -mindepth 1)" ]; then
  pass "tmpfs mounts with a size, not in the layer"
else fail "tmpfs mounts" "$out; upper: $(cd "$T/up" && find .)"; fi

# ssh: the agent socket is forwarded and SSH_AUTH_SOCK points at it
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$T/agent.sock"
out=$(run --ssh default="$T/agent.sock" --mount type=ssh -- /bin/sh -c 'echo $SSH_AUTH_SOCK; test -S $SSH_AUTH_SOCK && echo is-socket' 2>&1)
if [ "$out" = "$(printf '/run/buildkit/ssh_agent.0\nis-socket')" ] && [ -z "$(cd "$T/up" && find . -mindepth 1)" ]; then
  pass "type=ssh forwards the agent socket and sets SSH_AUTH_SOCK"
else fail "type=ssh forwards the agent socket" "$out"; fi
out=$(run --mount type=ssh,required -- true 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -q 'ssh default: no agent forwarded' <<<"$out"; then pass "a required ssh mount without --ssh is an error"
else fail "a required ssh mount without --ssh is an error" "$out"; fi

# debug run reads --mount with the Dockerfile's parser: keys and values in any case
out=$(run --mount Type=Cache,Target=/cc,ID=c3,Sharing=Locked -- /bin/sh -c 'echo ok > /cc/f; cat /cc/f' 2>&1)
if [ "$out" = ok ]; then pass "debug run --mount: Type=Cache,Target= (keys in any case)"
else fail "debug run --mount: keys in any case" "$out"; fi
out=$(run --mount type=cache,target=/x,frob=1 -- true 2>&1); rc=$?
if [ $rc -ne 0 ] && grep -qF -- "--mount type=cache,target=/x,frob=1" <<<"$out" && grep -q "unexpected key 'frob'" <<<"$out"; then
  pass "a bad --mount names the flag, the value and the key"
else fail "a bad --mount names the flag, the value and the key" "$out"; fi
# a secret with env= alone is the step's variable, not a file, and is masked in the output
out=$(SW_TEST_SECRET="$SECRET-env" run --secret id=envtok,env=SW_TEST_SECRET --mount type=secret,id=envtok,env=TOKEN \
      -- /bin/sh -c 'printf %s "$TOKEN" | sha256sum | grep -q "^'"$H2"' " && echo env-var-ok; test -e /run/secrets/envtok || echo no-file; echo "$TOKEN"' 2>&1)
if grep -q env-var-ok <<<"$out" && grep -q no-file <<<"$out" && ! grep -qF "$SECRET" <<<"$out" \
   && [ -z "$(cd "$T/up" && find . -mindepth 1)" ]; then
  pass "type=secret,env=VAR: the value is the step's variable, masked in output, not in the layer"
else fail "type=secret,env=VAR" "$(sed "s/$SECRET/<SECRET>/g" <<<"$out")"; fi
