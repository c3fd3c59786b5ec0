/* See trust.h. */
#include "trust.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_one(const char *text, struct trust_net *net)
{
	char buf[INET6_ADDRSTRLEN + 8];
	if (strlen(text) >= sizeof buf)
		return -1;
	strcpy(buf, text);
	int prefix = -1;
	char *slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		char *end;
		long v = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || v < 0 || v > 128)
			return -1;
		prefix = (int)v;
	}
	memset(net, 0, sizeof *net);
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		if (prefix > 32)
			return -1;
		net->prefix = prefix < 0 ? 32 : prefix;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		net->prefix = prefix < 0 ? 128 : prefix;
	} else {
		return -1;
	}
	return 0;
}

int trust_parse(const char *spec, struct trust_list *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (spec == NULL || spec[0] == '\0')
		return 0;
	out->configured = 1;
	const char *p = spec;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t n = end == NULL ? strlen(p) : (size_t)(end - p);
		char item[INET6_ADDRSTRLEN + 8];
		if (n == 0 || n >= sizeof item) {
			snprintf(err, errlen, "empty or overlong entry at offset %zu", (size_t)(p - spec));
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		if (out->count == TRUST_MAX) {
			snprintf(err, errlen, "more than %d entries", TRUST_MAX);
			return -1;
		}
		if (parse_one(item, &out->nets[out->count]) != 0) {
			snprintf(err, errlen, "\"%s\" is not an IPv4/IPv6 address or CIDR", item);
			return -1;
		}
		out->count++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, (size_t)bytes) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

int trust_allows(const struct trust_list *list, const struct sockaddr *peer)
{
	if (!list->configured)
		return 1;
	unsigned char v4[4], v6[16];
	int has4 = 0, has6 = 0;
	if (peer->sa_family == AF_INET) {
		memcpy(v4, &((const struct sockaddr_in *)peer)->sin_addr, 4);
		has4 = 1;
	} else if (peer->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
		memcpy(v6, a, 16);
		has6 = 1;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(v4, v6 + 12, 4);
			has4 = 1;
		}
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct trust_net *n = &list->nets[i];
		if (n->family == AF_INET && has4 && prefix_match(v4, n->addr, n->prefix))
			return 1;
		if (n->family == AF_INET6 && has6 && prefix_match(v6, n->addr, n->prefix))
			return 1;
	}
	return 0;
}
