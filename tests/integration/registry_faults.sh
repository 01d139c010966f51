#!/usr/bin/env bash
# Chunked uploads through a fault-injecting proxy (tests/helpers/fault-proxy.py) in front
# of a real registry: each upload completes with the right digest despite a dropped
# connection mid-PATCH, a 500 and a 429 with Retry-After (each resumed from memory after
# asking the registry where the upload stands), a PATCH whose reply is lost after the
# registry took it (distribution then drops the session: the copy starts the blob again
# from its source) and a commit PUT whose reply is lost (the blob is found by HEAD); a
# registry that never recovers gives a clear error within the retry bound.
. tests/lib.sh
export SLIPWAY
command -v docker-registry >/dev/null || { skip registry_faults "docker-registry not installed"; exit 0; }
work=$(scratch_dir)
start_registry "$work/r" || { fail "registry starts"; exit 0; }
R=$REGISTRY
python3 tests/helpers/push-random-image.py "$R" src/img:1 6 >/dev/null 2>"$work/layer"
layer=$(tail -1 "$work/layer")
export SLIPWAY_CHUNK_SIZE=$((1 << 20))   # 6 chunks per upload

blob_ok() { # REPO: the stored layer's bytes hash to its digest
  [ "$(curl -s "http://$R/v2/$1/blobs/$layer" | sha256sum | cut -d' ' -f1)" = "${layer#sha256:}" ]
}
run_with() { # NAME RULE…: copy through a proxy with RULEs
  local name=$1; shift
  start_fault_proxy "$R" "$@" || { fail "$name" "proxy did not start"; return; }
  local t0; t0=$(date +%s%N)
  if out=$("$SLIPWAY" imagetools create -t "$PROXY/$name/img:1" "$R/src/img:1" 2>&1) && blob_ok "$name/img" \
     && [ "$(grep -c '^fault' "$PROXY_LOG")" -eq $# ] \
     && [ $(( ($(date +%s%N) - t0) / 1000000 )) -ge "${MIN_MS:-0}" ]; then
    pass "upload survives: $*"
  else
    fail "upload survives: $*" "$out $(cat "$PROXY_LOG")"
  fi
}
run_with drop drop@2
run_with e500 500@3
MIN_MS=1000 run_with e429 429@2   # Retry-After: 1 is honoured
run_with mixed drop@1 500@3 429@4 drop@5
run_with lost lost@3
run_with putlost putlost@2
# a blob that fits in one chunk travels in the closing PUT (POST + PUT): faults there too
unset SLIPWAY_CHUNK_SIZE
run_with small-putlost putlost@1
run_with small-put500 put500@1
run_with small-putdrop putdrop@2
export SLIPWAY_CHUNK_SIZE=$((1 << 20))

start_fault_proxy "$R" 503@all
start=$(date +%s)
out=$(SLIPWAY_RETRY_ATTEMPTS=4 SLIPWAY_RETRY_SECONDS=20 "$SLIPWAY" imagetools create -t "$PROXY/dead/img:1" "$R/src/img:1" 2>&1); rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -ne 0 ] && grep -q "gave up after 4 attempts" <<<"$out" && [ $took -le 20 ]; then
  pass "a registry that never recovers: clear error in ${took}s"
else
  fail "a registry that never recovers" "rc=$rc took=${took}s: $out"
fi
