#!/usr/bin/env python3
"""sample.py STATE_DIR -- CMD…: run CMD (../shared/bench/anchors.sh for one tool and case) in a
fresh cgroup of its own and measure what anchors.sh does not:

  rss_peak_kib   the largest sum, over the samples, of the RSS of the tool's own processes
                 (slipway; dockerd, docker, containerd*, runc; buildah) among the cgroup's
                 members. The RUN commands (sh, dd, gcc, qemu…) and the registry are not the
                 tool and are not counted; docker's build containers leave the cgroup anyway.
  hwm_kib        the largest VmHWM of any one tool process (catches spikes between samples).
  written_kib    bytes written to the tool's local storage: the sum of the increases of the use
                 of STATE_DIR (the tmpfs anchors.sh mounts there, where each tool keeps all its
                 state and TMPDIR), sampled with the RSS. A tmpfs has no I/O counters (io.stat,
                 /proc/PID/io count block devices only), so this is a lower bound: a file written
                 and removed between two samples is missed.

Samples every 50 ms. CMD's stdout passes through; the figures go to stderr as one line
"SAMPLE rss_peak_kib=… hwm_kib=… written_kib=… samples=…". The cgroup (pids hierarchy, v1,
or the unified one) is removed at the end; processes left in it (the registry anchors.sh
restarts) are moved back to the root group first."""
import os, subprocess, sys, time

TOOLS = {"slipway", "dockerd", "docker", "docker-init", "docker-proxy", "containerd", "runc",
         "containerd-shim", "containerd-shim-runc-v2", "buildah", "conmon", "crun"}

def cgroup_root():
    for p in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(p, "cgroup.procs")):
            return p
    sys.exit("sample.py: no cgroup hierarchy to put the run in")

def tool_rss(pids):
    total = hwm = 0
    for pid in pids:
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
        except OSError:
            continue
        if exe not in TOOLS and not exe.startswith("slipway"):
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
        except OSError:
            pass
    return total, hwm

def used(path):
    """bytes in use on the file system mounted at path; None while nothing is mounted there"""
    try:
        if os.stat(path).st_dev == os.stat(os.path.dirname(path.rstrip("/"))).st_dev:
            return None
        s = os.statvfs(path)
    except OSError:
        return None
    return (s.f_blocks - s.f_bfree) * s.f_frsize

def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    state, cmd = sys.argv[1], sys.argv[3:]
    root = cgroup_root()
    cg = os.path.join(root, f"slipway-bench-{os.getpid()}")
    os.mkdir(cg)
    def enter():
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    p = subprocess.Popen(cmd, preexec_fn=enter)
    rss_peak = hwm_peak = written = samples = 0
    last = None
    while True:
        done = p.poll() is not None
        try:
            with open(os.path.join(cg, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            pids = []
        rss, hwm = tool_rss(pids)
        rss_peak, hwm_peak = max(rss_peak, rss), max(hwm_peak, hwm)
        u = used(state)
        if u is not None:
            if last is not None and u > last:
                written += u - last
            last = u
        else:
            last = None
        samples += 1
        if done:
            break
        time.sleep(0.05)
    # the registry anchors.sh restarted (and anything else left) goes back to the root group
    for _ in range(50):
        try:
            with open(os.path.join(cg, "cgroup.procs")) as f:
                left = f.read().split()
            for pid in left:
                try:
                    with open(os.path.join(root, "cgroup.procs"), "w") as f:
                        f.write(pid)
                except OSError:
                    pass
            os.rmdir(cg)
            break
        except OSError:
            time.sleep(0.1)
    print(f"SAMPLE rss_peak_kib={rss_peak} hwm_kib={hwm_peak} written_kib={written // 1024} samples={samples}",
          file=sys.stderr, flush=True)
    sys.exit(p.returncode)

main()
