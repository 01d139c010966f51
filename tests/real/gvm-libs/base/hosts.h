/* A stand-in for gvm-libs' base/hosts.h. */
#ifndef GVM_BASE_HOSTS_H
#define GVM_BASE_HOSTS_H
unsigned int gvm_hosts_count (const char *list);
#endif
