/* sandbox/net.h — the RUN steps' own network: a network namespace with outbound
 * connectivity through pasta (Debian's passt package) and no path to the host's loopback.
 *
 * Guarantees:
 *  - sw_sandbox_net_fd() returns an fd of a network namespace made once per process (the
 *    first time a step needs it) and shared by its later steps, as BuildKit's per-build
 *    network is.  In it: lo, and pasta's tap interface with the host's addresses and
 *    routes.  Packets leaving it go through pasta, which opens ordinary sockets on the
 *    host for them: no port is forwarded either way (-t/-u/-T/-U none), the gateway is
 *    not mapped to the host (--no-map-gw), so the step reaches neither the host's
 *    loopback listeners (127.0.0.1 and the host's own address are the namespace's own
 *    there), nor its abstract unix sockets (they are per network namespace), nor sees any
 *    of the host's traffic (an AF_PACKET socket in it sees the namespace's packets only:
 *    never slipway's registry uploads, which stay in the host's namespace).
 *    Sharing it between steps is safe because a step holds no CAP_NET_ADMIN (it cannot
 *    change the namespace for the next) and leaves no process behind (its PID namespace
 *    dies with it), so nothing it sets up outlives it but kernel caches.
 *  - pasta runs unprivileged where the host lets it: as nobody, in a user namespace nobody
 *    owns that owns the network namespace — a flaw in pasta's packet handling is then a
 *    flaw of an unprivileged process.  Where /dev/net/tun is root's alone (mode 0600),
 *    pasta stays root with only the capabilities it keeps (NET_ADMIN, NET_BIND_SERVICE,
 *    SYS_ADMIN), in the same namespaces.  A keeper process (nobody, deaf to SIGINT/SIGTERM/SIGHUP) kills pasta
 *    when this process exits in any way, SIGKILL included.
 *  - No pasta installed: an error naming the package and the alternatives.
 *  - sw_sandbox_net_resolv() is the step's /etc/resolv.conf for a mode: the host's for
 *    host and none; for the own network the host's upstream resolvers — a loopback stub
 *    (systemd-resolved's 127.0.0.53) is unreachable from the namespace, so its upstream
 *    file /run/systemd/resolve/resolv.conf is used, and failing that pasta's DNS
 *    forwarding address.
 */
#ifndef SW_SANDBOX_NET_H
#define SW_SANDBOX_NET_H

#include "common/error.h"
#include "sandbox/sandbox.h"

/* The shared namespace's fd (owned by this module; valid until the process exits). */
int sw_sandbox_net_fd (int *fd, sw_error **err);

/* The content of the step's /etc/resolv.conf for MODE (malloc'd). */
char *sw_sandbox_net_resolv (sw_net_mode mode);

#endif
