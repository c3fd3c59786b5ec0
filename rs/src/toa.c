/* See toa.h. */
#include "toa.h"

#include <string.h>
#include <sys/socket.h>

#define IPPROTO_TCP_NUM 6

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Offset of the TCP header inside an IPv6 packet, or a negative toa_result. */
static long ipv6_tcp_offset(const uint8_t *p, size_t len)
{
	if (len < 40)
		return TOA_ERR_IP;
	uint8_t next = p[6];
	size_t off = 40;
	/* Extension headers a SYN may legitimately carry; a fragment header cannot lead to a
	 * complete TCP header the kernel saved, so it ends the walk like any other protocol. */
	for (int hops = 0; hops < 8; hops++) {
		size_t ext;
		switch (next) {
		case IPPROTO_TCP_NUM:
			return (long)off;
		case 0:  /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
			if (len < off + 2)
				return TOA_ERR_IP;
			ext = ((size_t)p[off + 1] + 1) * 8;
			break;
		case 51: /* authentication header */
			if (len < off + 2)
				return TOA_ERR_IP;
			ext = ((size_t)p[off + 1] + 2) * 4;
			break;
		default:
			return TOA_ERR_NOT_TCP;
		}
		if (len < off + ext)
			return TOA_ERR_IP;
		next = p[off];
		off += ext;
	}
	return TOA_ERR_NOT_TCP;
}

int toa_from_syn(const uint8_t *syn, size_t len, struct toa_addr *out)
{
	if (syn == NULL || len < 1)
		return TOA_ERR_IP;
	long tcp_off;
	switch (syn[0] >> 4) {
	case 4: {
		size_t ihl = (size_t)(syn[0] & 0x0f) * 4;
		if (ihl < 20 || len < ihl)
			return TOA_ERR_IP;
		if (syn[9] != IPPROTO_TCP_NUM)
			return TOA_ERR_NOT_TCP;
		tcp_off = (long)ihl;
		break;
	}
	case 6:
		tcp_off = ipv6_tcp_offset(syn, len);
		if (tcp_off < 0)
			return (int)tcp_off;
		break;
	default:
		return TOA_ERR_IP;
	}

	const uint8_t *tcp = syn + tcp_off;
	size_t left = len - (size_t)tcp_off;
	if (left < 20)
		return TOA_ERR_TCP;
	size_t hdr = (size_t)(tcp[12] >> 4) * 4;
	if (hdr < 20 || hdr > left)
		return TOA_ERR_TCP;

	size_t i = 20;
	while (i < hdr) {
		uint8_t kind = tcp[i];
		if (kind == 0) /* end of option list */
			break;
		if (kind == 1) { /* NOP */
			i++;
			continue;
		}
		if (i + 2 > hdr)
			return TOA_ERR_OPTIONS;
		size_t olen = tcp[i + 1];
		if (olen < 2 || i + olen > hdr)
			return TOA_ERR_OPTIONS;
		if (kind == TOA_KIND && (olen == TOA_LEN_V4 || olen == TOA_LEN_V6)) {
			const uint8_t *v = tcp + i + 2;
			size_t alen = olen - 4;
			if (all_zero(v, 2) || all_zero(v + 2, alen))
				return TOA_ERR_ZERO;
			out->family = olen == TOA_LEN_V4 ? AF_INET : AF_INET6;
			memcpy(&out->port_be, v, 2);
			memset(out->addr, 0, sizeof out->addr);
			memcpy(out->addr, v + 2, alen);
			return olen == TOA_LEN_V4 ? TOA_FOUND_V4 : TOA_FOUND_V6;
		}
		i += olen;
	}
	return TOA_NONE;
}

const char *toa_result_name(int result)
{
	switch (result) {
	case TOA_FOUND_V4: return "toa-v4";
	case TOA_FOUND_V6: return "toa-v6";
	case TOA_NONE: return "no-toa";
	case TOA_ERR_IP: return "bad-ip-header";
	case TOA_ERR_NOT_TCP: return "not-tcp";
	case TOA_ERR_TCP: return "bad-tcp-header";
	case TOA_ERR_OPTIONS: return "bad-tcp-options";
	case TOA_ERR_ZERO: return "toa-zero-address-or-port";
	default: return "unknown";
	}
}
