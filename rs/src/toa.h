/*
 * TOA (TCP Option Address) parsing from a SYN saved by the kernel (TCP_SAVED_SYN).
 *
 * Wire format written by the balancer right after the fixed 20-byte TCP header:
 *   IPv4: kind 254, length 8:  be16 client port, be32 client IPv4 address
 *   IPv6: kind 254, length 20: be16 client port, 16-byte client IPv6 address
 *
 * Pure functions: no I/O, no allocation, no global state.
 */
#ifndef FULLNAT_TOA_H
#define FULLNAT_TOA_H

#include <stddef.h>
#include <stdint.h>

#define TOA_KIND 254
#define TOA_LEN_V4 8
#define TOA_LEN_V6 20

/* Outcome of toa_from_syn(); negative values say why a SYN could not be read. */
enum toa_result {
	TOA_FOUND_V4 = 4,
	TOA_FOUND_V6 = 6,
	TOA_NONE = 0,              /* a well-formed SYN without a usable option 254 */
	TOA_ERR_IP = -1,           /* not an IPv4/IPv6 header, or truncated */
	TOA_ERR_NOT_TCP = -2,      /* the network header does not lead to TCP */
	TOA_ERR_TCP = -3,          /* TCP header truncated or data offset below 5 */
	TOA_ERR_OPTIONS = -4,      /* an option runs past the header: options untrusted */
	TOA_ERR_ZERO = -5,         /* option 254 of TOA length carrying port or address 0 */
};

/* A client address carried by a TOA option. */
struct toa_addr {
	int family;        /* AF_INET or AF_INET6 */
	uint16_t port_be;  /* network byte order, as on the wire */
	uint8_t addr[16];  /* 4 bytes used for AF_INET */
};

/*
 * Finds the first option 254 of TOA length (8 or 20) in a saved SYN that starts at the IP
 * header. Other options of kind 254 (RFC 6994 experiments, e.g. Fast Open's) have other
 * lengths and are skipped. On TOA_FOUND_* fills *out; otherwise leaves it untouched.
 */
int toa_from_syn(const uint8_t *syn, size_t len, struct toa_addr *out);

/* A short constant name for a toa_result, for logs. */
const char *toa_result_name(int result);

#endif
