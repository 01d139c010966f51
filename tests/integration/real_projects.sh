#!/usr/bin/env bash
# Real projects' own Dockerfiles (tests/real/: each case's ORIGIN says where it came from and
# what was adapted), built by the reference buildx and by slipway on a Debian 12 base made
# with debootstrap, and compared as the differential suite compares (tests/integration/diff.sh).
# Run-to-run noise of apt and npm (their logs, caches, timestamps inside files) is listed in
# tests/real/ignore; anything else that differs is a bug.
DIFF_DIR=${TOP:-$PWD}/tests/real DIFF_LABEL=real DIFF_JOBS=${DIFF_JOBS:-2} exec bash "${TOP:-$PWD}/tests/integration/diff.sh"
