#!/usr/bin/env bash
# `slipway debug plan`: the front end end to end — stages, ARG scoping into FROM, --target
# pruning, located errors with the offending line and a caret.
. tests/lib.sh

d=$(scratch_dir)
cat > "$d/Dockerfile" <<'DF'
ARG GO=1.22
FROM --platform=$BUILDPLATFORM golang:$GO AS build
ARG TARGETARCH
RUN GOARCH=$TARGETARCH go build -o /out/app
FROM alpine AS test
COPY --from=build /out/app /app
FROM scratch
COPY --from=build /out/app /app
DF
cat > "$d/Dockerfile.bad" <<'DF'
FROM alpine
RUNN make
DF
cat > "$d/Dockerfile.cycle" <<'DF'
FROM alpine AS a
COPY --from=b /x /x
FROM alpine AS b
COPY --from=a /y /y
DF
export D=$d

check "global ARG and --build-arg reach FROM" bash -c '
  "$SLIPWAY" debug plan "$D/Dockerfile" --build-arg GO=1.23 | grep -q "FROM image golang:1.23"'
check "--platform sets TARGETARCH; --platform=\$BUILDPLATFORM stage stays on the build platform" bash -c '
  out=$("$SLIPWAY" debug plan "$D/Dockerfile" --platform linux/arm64 --build-platform linux/amd64)
  grep -q "TARGETARCH=arm64" <<<"$out" && grep -q "stage 0 build: .*platform linux/amd64 (explicit)" <<<"$out"'
check "default target prunes the unneeded stage" bash -c '
  out=$("$SLIPWAY" debug plan "$D/Dockerfile")
  grep -q "^order: build stage-2$" <<<"$out" && grep -q "stage 1 test: .*not needed" <<<"$out"'
check "--target picks a stage and what it needs" bash -c '
  "$SLIPWAY" debug plan "$D/Dockerfile" --target TEST | grep -q "^order: build test$"'
check "a missing --target is an error with a suggestion" bash -c '
  out=$("$SLIPWAY" debug plan "$D/Dockerfile" --target tset 2>&1); [ $? -ne 0 ] &&
  grep -q "target stage \"tset\" could not be found (did you mean test?)" <<<"$out"'
check "unused build args are reported" bash -c '
  "$SLIPWAY" debug plan "$D/Dockerfile" --build-arg NOPE=1 | grep -q "build-args \[NOPE\] were not consumed"'
check "unknown instruction: file:line:col, the line, a caret" bash -c '
  out=$("$SLIPWAY" debug plan "$D/Dockerfile.bad" 2>&1); [ $? -ne 0 ] &&
  grep -q "Dockerfile.bad:2:1: unknown instruction: RUNN (did you mean RUN?)" <<<"$out" &&
  grep -q "2 | RUNN make" <<<"$out" && grep -qE "^ +\| \^$" <<<"$out"'
check "a stage cycle is an error at the COPY that closes it" bash -c '
  out=$("$SLIPWAY" debug plan "$D/Dockerfile.cycle" 2>&1); [ $? -ne 0 ] &&
  grep -q "Dockerfile.cycle:4:6: circular dependency detected on stage: a" <<<"$out"'
