#!/usr/bin/env bash
# bench/run.sh — `make bench`: build and push each case of ../shared/bench/cases with slipway,
# docker's BuildKit (Debian's docker.io, dockerd started per run with --iptables=false
# --bridge=none) and buildah, in one run, and print a Markdown table side by side.
#
#   make bench                              all cases, 3 runs each
#   RUNS=1 CASES="steps30 fat" bench/run.sh  a quick look
#   TOOLS="slipway docker" …                 a subset of the tools
#
# Every measurement is ../shared/bench/anchors.sh TOOL CASE [PLATFORM] (the shared harness: a
# fresh tmpfs for the tool's state and TMPDIR, its peak use, wall time of build + push, the
# target registry on 127.0.0.1:5000 emptied before each run), run under bench/sample.py, which
# adds peak RSS of the tool's processes and the bytes written to the tool's local storage.
# Runs are interleaved (run 1 of every tool, then run 2, …) so that the load of a shared machine
# falls alike on all three; the table gives medians.
#
# Once: ../shared/bench/setup.sh (anchor tools, registries, busybox base images, qemu-aarch64 in
# binfmt_misc) when its base image is missing, and ../shared/bench/setup-debian.sh (a debootstrapped
# Debian 12 in the bench's hub registry) for the cbuild case. binfmt_misc is left as it was found:
# an entry setup.sh registers for the arm64 case is removed right after that case, and in any case
# on exit; registries this script started are stopped on exit.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
RUNS=${RUNS:-3}
CASES=${CASES:-"arm64 fat steps30 copyctx multistage cbuild"}
TOOLS=${TOOLS:-"slipway docker buildah"}
export SLIPWAY=${SLIPWAY:-$ROOT/slipway}
PY=/usr/bin/python3
B=/tmp/slipway-bench
OUT=${OUT:-$B/results-$(date -u +%Y%m%dT%H%M%SZ)}
BINFMT=/proc/sys/fs/binfmt_misc

die() { echo "bench/run.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (dockerd, mounts, binfmt_misc)"
[ -x "$SHARED/anchors.sh" ] || die "no harness at $SHARED (../shared/bench beside the repo)"
[ -x "$SLIPWAY" ] || die "no slipway at $SLIPWAY: make first"
mkdir -p "$OUT"

# ---- what the bench needs, from Debian's archive ----
need=()
for pair in dockerd:docker.io buildah:buildah debootstrap:debootstrap /usr/bin/time:time \
            docker-registry:docker-registry skopeo:skopeo umoci:umoci qemu-aarch64-static:qemu-user-static \
            busybox:busybox-static jq:jq curl:curl "$PY":python3; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
fi

# ---- leave the machine as found: binfmt_misc entries, registries ----
binfmt_was_mounted=0; [ -e $BINFMT/register ] && binfmt_was_mounted=1
binfmt_before=" $(ls $BINFMT 2>/dev/null | tr '\n' ' ') "
echo "binfmt_misc at start: $([ $binfmt_was_mounted = 1 ] && echo "mounted, entries:$binfmt_before" || echo "not mounted") (left so at exit)" >&2
regs_were_up=0; curl -fs http://127.0.0.1:5001/v2/ >/dev/null 2>&1 && regs_were_up=1
restore_binfmt() {
  local e
  for e in $(ls $BINFMT 2>/dev/null); do
    case $e in register|status) continue ;; esac
    case $binfmt_before in *" $e "*) ;; *) echo -1 > "$BINFMT/$e" 2>/dev/null && echo "removed binfmt_misc entry $e (added by setup.sh)" >&2 ;; esac
  done
  [ $binfmt_was_mounted = 1 ] || { umount $BINFMT 2>/dev/null && echo "unmounted binfmt_misc (mounted by setup.sh)" >&2; } || true
}
cleanup() {
  restore_binfmt
  [ -f $B/docker.pid ] && kill "$(cat $B/docker.pid)" 2>/dev/null
  [ $regs_were_up = 1 ] || "$SHARED/registry.sh" stop >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }
printf 'load_start %s\ntime_start %s\n' "$(load)" "$(date -u +%FT%TZ)" > "$OUT/meta"

# ---- one-time setup ----
"$SHARED/registry.sh" start >/dev/null || die "registries did not start"
has_manifest() { # repo tag
  curl -fs -o /dev/null -H 'Accept: application/vnd.oci.image.index.v1+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://127.0.0.1:5001/v2/$1/manifests/$2"
}
setup() { # the busybox base image; the arm64 case also needs qemu-aarch64 in binfmt_misc
  if ! has_manifest busybox latest || { [ "$1" = arm64 ] && ! [ -e $BINFMT/qemu-aarch64 ]; }; then
    echo "running ../shared/bench/setup.sh" >&2
    "$SHARED/setup.sh" >> "$OUT/setup.log" 2>&1 || die "setup.sh failed: see $OUT/setup.log"
  fi
}
cbuild_note=""
case " $CASES " in *" cbuild "*)
  if ! has_manifest debian bookworm; then
    echo "running ../shared/bench/setup-debian.sh (debootstrap; a few minutes)" >&2
    "$SHARED/setup-debian.sh" > "$OUT/setup-debian.log" 2>&1 ||
      cbuild_note="setup-debian.sh failed: $(tail -1 "$OUT/setup-debian.log")"
  fi ;;
esac

# ---- the runs ----
one() { # tool case platform run
  local tool=$1 c=$2 plat=$3 n=$4 line s
  s=$("$PY" "$ROOT/bench/sample.py" "$B/state-$tool" -- "$SHARED/anchors.sh" "$tool" "$c" "$plat" \
       2> "$OUT/$c-$tool-$n.err" > "$OUT/$c-$tool-$n.out"; grep '^SAMPLE' "$OUT/$c-$tool-$n.err")
  line=$(grep " $c $plat rc=" "$OUT/$c-$tool-$n.out" | tail -1)
  cp "$B/$tool-$c.log" "$OUT/$c-$tool-$n.log" 2>/dev/null
  [ -n "$line" ] || line="$tool $c $plat rc=99 wall_s=0 peak_local_MiB=0"
  echo "$line ${s#SAMPLE }" | tee -a "$OUT/results" >&2
}
for c in $CASES; do
  plat=linux/amd64; [ "$c" = arm64 ] && plat=linux/arm64
  if [ "$c" = cbuild ] && [ -n "$cbuild_note" ]; then
    echo "cbuild skipped: $cbuild_note" >&2; continue
  fi
  setup "$c"
  for n in $(seq 1 "$RUNS"); do
    for t in $TOOLS; do one "$t" "$c" "$plat" "$n"; done
  done
  # the arm64 anchors needed qemu in binfmt_misc; the rest of the bench does not
  [ "$c" = arm64 ] && restore_binfmt
done
printf 'load_end %s\ntime_end %s\n' "$(load)" "$(date -u +%FT%TZ)" >> "$OUT/meta"

# ---- the table ----
"$PY" - "$OUT" "$RUNS" "$cbuild_note" "$CASES" "$TOOLS" > "$OUT/table.md" <<'PY'
import os, platform, statistics, subprocess, sys
out, runs, cnote, cases, tools = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(), sys.argv[5].split()
meta = dict(l.split(" ", 1) for l in open(f"{out}/meta").read().splitlines())
rows = {}
for l in open(f"{out}/results").read().splitlines() if os.path.exists(f"{out}/results") else []:
    f = l.split()
    kv = dict(x.split("=", 1) for x in f[3:])
    rows.setdefault((f[1], f[0]), []).append(kv)
NAME = {"slipway": "slipway", "docker": "BuildKit", "buildah": "buildah"}
TARGET = {"fat": 0.25, "steps30": 0.3, "arm64": 0.4, "copyctx": 0.5, "multistage": 0.5, "cbuild": 0.7}
def med(runs, key, scale=1.0):
    v = [float(r[key]) * scale for r in runs if r["rc"] == "0"]
    return statistics.median(v) if v else None
def fmt(x, d=1):
    return "—" if x is None else f"{x:.{d}f}"
def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = int(open("/proc/meminfo").readline().split()[1]) // 1024 // 1024
print(f"Machine: {os.cpu_count()} × {cpu}, {mem} GiB RAM, Linux {platform.release()}; "
      f"load average (1/5/15 min) at start {meta['load_start']}, at end {meta['load_end']} "
      f"({meta['time_start']} → {meta['time_end']}).")
print(f"Medians of {runs} runs each, runs interleaved across tools. Wall: build + push (docker: `docker build` + `docker push`, "
      "the daemon's start not counted). Peak disk: the tool's tmpfs (state and TMPDIR) above its use at the start. "
      "Peak RSS: the largest sum of the RSS of the tool's own processes (dockerd included), sampled every 50 ms; "
      "the RUN commands and the registry are not counted. Written: the sum of the increases of the tool's tmpfs use, "
      "sampled every 50 ms (a lower bound). Ratios are slipway ÷ the peer (below 1: slipway better).\n")
print("| case | tool | wall s | peak disk MiB | peak RSS MiB | written MiB | slipway ÷ tool: wall | disk | RSS | written | fails |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
checks = []
for c in cases:
    if c == "cbuild" and cnote:
        print(f"| cbuild | all | — | — | — | — | — | — | — | — | not run: {cnote} |")
        checks.append(f"- cbuild: not measured ({cnote})")
        continue
    sw = rows.get((c, "slipway"), [])
    s = {k: med(sw, k) for k in ("wall_s", "peak_local_MiB")}
    s["rss"] = med(sw, "rss_peak_kib", 1 / 1024); s["written"] = med(sw, "written_kib", 1 / 1024)
    for t in tools:
        rr = rows.get((c, t), [])
        m = {"wall_s": med(rr, "wall_s"), "peak_local_MiB": med(rr, "peak_local_MiB"),
             "rss": med(rr, "rss_peak_kib", 1 / 1024), "written": med(rr, "written_kib", 1 / 1024)}
        bad = [r for r in rr if r["rc"] != "0"]
        fails = f"{len(bad)}/{len(rr)} failed (rc {','.join(r['rc'] for r in bad)})" if bad else ""
        if t == "slipway":
            rs = "| — | — | — | — "
        else:
            rs = "".join(f"| {fmt(ratio(s[k], m[k]), 2)}× " for k in ("wall_s", "peak_local_MiB", "rss", "written"))
        print(f"| {c} | {NAME[t]} | {fmt(m['wall_s'], 2)} | {fmt(m['peak_local_MiB'], 0)} | {fmt(m['rss'], 0)} | "
              f"{fmt(m['written'], 0)} {rs}| {fails} |")
    bk = med(rows.get((c, "docker"), []), "wall_s")
    r = ratio(s["wall_s"], bk)
    if c in TARGET:
        verdict = "—" if r is None else ("met" if r <= TARGET[c] else f"missed ({r / TARGET[c]:.2f}× the target)")
        checks.append(f"- {c}: wall ≤ {TARGET[c]}× BuildKit — {fmt(r, 2)}× — {verdict}")
    if s["rss"] is not None:
        checks.append(f"- {c}: slipway peak RSS ≤ 100 MiB — {s['rss']:.0f} MiB — {'met' if s['rss'] <= 100 else 'missed'}")
    if c == "fat" and s["peak_local_MiB"] is not None:
        checks.append(f"- fat: peak local disk ≤ 1.05× the layer (512 MiB → 538 MiB) — {s['peak_local_MiB']:.0f} MiB — "
                      f"{'met' if s['peak_local_MiB'] <= 512 * 1.05 else 'missed'}")
print("\nTargets (slipway, ratios to BuildKit in this run):\n")
print("\n".join(checks))
print(f"\nRaw figures and logs: {out}")
PY
cat "$OUT/table.md"
