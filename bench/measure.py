#!/usr/bin/env python3
"""measure.py CMD…: run CMD, print "seconds=S maxrss_KiB=K disk_write_bytes=W rc=R" to
stderr (wait4 rusage of CMD and its waited-for children; disk writes from the block-output
count, ru_oublock × 512)."""
import os, subprocess, sys, time
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:])
_, status, ru = os.wait4(p.pid, 0)
secs = time.monotonic() - t0
print(f"seconds={secs:.2f} maxrss_KiB={ru.ru_maxrss} disk_write_bytes={ru.ru_oublock * 512} rc={os.waitstatus_to_exitcode(status)}",
      file=sys.stderr)
