/*
 * Which peers may speak for a client through TOA.
 *
 * Any host that can reach the server directly could put option 254 in its own SYN and claim
 * any address. FULLNAT_TOA_TRUST limits TOA to SYNs whose real source (the balancer's local
 * addresses) lies in a comma-separated list of CIDRs, e.g. "203.0.113.0/24,fd00:b::/64";
 * a bare address means /32 or /128. IPv4 entries also match v4-mapped IPv6 peers.
 */
#ifndef FULLNAT_TRUST_H
#define FULLNAT_TRUST_H

#include <stddef.h>
#include <sys/socket.h>

#define TRUST_MAX 64

struct trust_net {
	int family;            /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;
};

struct trust_list {
	int configured;        /* 0: no list given, every peer is trusted */
	size_t count;
	struct trust_net nets[TRUST_MAX];
};

/*
 * Parses a list; returns 0, or -1 with a message in err that names the bad entry. An empty
 * or NULL spec leaves the list unconfigured (trust every peer).
 */
int trust_parse(const char *spec, struct trust_list *out, char *err, size_t errlen);

/* 1 when the peer address is trusted by the list. */
int trust_allows(const struct trust_list *list, const struct sockaddr *peer);

#endif
