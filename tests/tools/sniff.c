/* tests/tools/sniff.c — what a RUN step with CAP_NET_RAW sees on the wire: an AF_PACKET
 * socket reading every interface of its network namespace for SECONDS, counting the TCP
 * packets to or from PORT and those whose payload holds "Authorization".  Built static by
 * the tests (gcc -static) and run inside steps.
 *   sniff PORT SECONDS  →  "packets=N port=M auth=K"
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_MONOTONIC, &t);
  return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

int
main (int argc, char **argv)
{
  if (argc != 3)
    {
      fprintf (stderr, "usage: sniff PORT SECONDS\n");
      return 2;
    }
  unsigned port = (unsigned) atoi (argv[1]);
  double until = now () + atof (argv[2]);
  int s = socket (AF_PACKET, SOCK_RAW, htons (ETH_P_ALL));
  if (s < 0)
    {
      perror ("socket(AF_PACKET)");
      return 1;
    }
  static unsigned char buf[65536 + 256];
  long packets = 0, on_port = 0, auth = 0;
  while (now () < until)
    {
      struct pollfd pf = { s, POLLIN, 0 };
      if (poll (&pf, 1, 100) <= 0)
        continue;
      ssize_t n = recv (s, buf, sizeof buf, 0);
      if (n <= 0)
        continue;
      packets++;
      if (n < 14 + 20)
        continue;
      const unsigned char *ip = buf + 14; /* Ethernet (lo has a zeroed one too) */
      size_t len = (size_t) n - 14;
      size_t l4;
      int proto;
      if ((ip[0] >> 4) == 4)
        l4 = (size_t) (ip[0] & 15) * 4, proto = ip[9];
      else if ((ip[0] >> 4) == 6 && len >= 40)
        l4 = 40, proto = ip[6];
      else
        continue;
      if (proto != 6 || len < l4 + 20)
        continue;
      const unsigned char *tcp = ip + l4;
      unsigned sp = (unsigned) (tcp[0] << 8 | tcp[1]), dp = (unsigned) (tcp[2] << 8 | tcp[3]);
      if (sp != port && dp != port)
        continue;
      on_port++;
      size_t off = l4 + (size_t) (tcp[12] >> 4) * 4;
      if (off < len && memmem (ip + off, len - off, "Authorization", 13))
        auth++;
    }
  printf ("packets=%ld port=%ld auth=%ld\n", packets, on_port, auth);
  return 0;
}
