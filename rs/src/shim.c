/*
 * libfullnat_toa: an LD_PRELOAD shim that lets unmodified servers behind a FULLNAT balancer
 * see the real client address carried in the SYN's TOA option, without the `toa` kernel module.
 *
 *   listen()            turns on TCP_SAVE_SYN for IPv4/IPv6 TCP sockets, so the kernel keeps
 *                       each connection's SYN (IP + TCP headers);
 *   accept(), accept4() read the saved SYN once (TCP_SAVED_SYN frees it) and, when it carries
 *                       a valid TOA from a trusted peer, report the client address instead of
 *                       the balancer's local address, and remember it for the fd;
 *   getpeername()       reports the remembered address;
 *   close()             forgets it.
 *
 * Everything else, and every connection without TOA, is left exactly as the kernel reports
 * it. Failures inside the shim are logged (FULLNAT_TOA_LOG) and never change the result or
 * errno of the call the server made.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fd_cache.h"
#include "log.h"
#include "toa.h"
#include "trust.h"

#define EXPORT __attribute__((visibility("default")))

/* Largest saved SYN read: IPv6 with extension headers plus a full TCP header fits easily. */
#define SYN_BUF 1024

typedef int (*listen_fn)(int, int);
typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*getpeername_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*close_fn)(int);

static listen_fn real_listen;
static accept_fn real_accept;
static accept4_fn real_accept4;
static getpeername_fn real_getpeername;
static close_fn real_close;

static struct trust_list trust;
static int trust_broken;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	int saved = errno;
	real_listen = (listen_fn)dlsym(RTLD_NEXT, "listen");
	real_accept = (accept_fn)dlsym(RTLD_NEXT, "accept");
	real_accept4 = (accept4_fn)dlsym(RTLD_NEXT, "accept4");
	real_getpeername = (getpeername_fn)dlsym(RTLD_NEXT, "getpeername");
	real_close = (close_fn)dlsym(RTLD_NEXT, "close");
	log_init();
	fd_cache_init();
	const char *spec = getenv("FULLNAT_TOA_TRUST");
	char err[200];
	if (trust_parse(spec, &trust, err, sizeof err) != 0) {
		/* Fail safe: a list we cannot read trusts nobody, and the server keeps running. */
		trust_broken = 1;
		dprintf(STDERR_FILENO,
			"fullnat-toa: FULLNAT_TOA_TRUST: %s; TOA is ignored for every connection until"
			" it is fixed (example: FULLNAT_TOA_TRUST=203.0.113.0/24,fd00:b::/64)\n", err);
	}
	log_line("loaded; trusted TOA senders: %s", trust_broken ? "none (bad FULLNAT_TOA_TRUST)"
		 : (spec == NULL || spec[0] == '\0') ? "any peer" : spec);
	errno = saved;
}

__attribute__((constructor)) static void shim_constructor(void)
{
	pthread_once(&once, init);
}

static inline void ensure_init(void)
{
	pthread_once(&once, init);
}

/* "1.2.3.4:80" or "[2001:db8::1]:80" */
static const char *fmt_sa(const struct sockaddr *sa, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof ip);
		snprintf(buf, n, "%s:%u", ip, ntohs(s->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof ip);
		snprintf(buf, n, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else {
		snprintf(buf, n, "family-%d", sa->sa_family);
	}
	return buf;
}

static int is_inet_tcp(int fd)
{
	int v;
	socklen_t l = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l) != 0 || (v != AF_INET && v != AF_INET6))
		return 0;
	l = sizeof v;
	return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &v, &l) == 0 && v == IPPROTO_TCP;
}

static void enable_save_syn(int fd, const char *why)
{
	int one = 1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_SAVE_SYN, &one, sizeof one) == 0)
		log_line("%s fd=%d: TCP_SAVE_SYN on", why, fd);
	else
		log_line("%s fd=%d: TCP_SAVE_SYN failed: %s", why, fd, strerror(errno));
}

/*
 * Builds the address to report for a client from TOA, in the accepted socket's family.
 * Returns its length, or 0 when it cannot be expressed (IPv6 client on an IPv4 socket).
 */
static socklen_t toa_sockaddr(const struct toa_addr *t, int sock_family,
			      struct sockaddr_storage *out)
{
	memset(out, 0, sizeof *out);
	if (sock_family == AF_INET) {
		if (t->family != AF_INET)
			return 0;
		struct sockaddr_in *s = (struct sockaddr_in *)out;
		s->sin_family = AF_INET;
		s->sin_port = t->port_be;
		memcpy(&s->sin_addr, t->addr, 4);
		return sizeof *s;
	}
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)out;
	s->sin6_family = AF_INET6;
	s->sin6_port = t->port_be;
	if (t->family == AF_INET) {
		/* ::ffff:a.b.c.d, as the kernel reports IPv4 peers of dual-stack sockets. */
		s->sin6_addr.s6_addr[10] = 0xff;
		s->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s->sin6_addr.s6_addr[12], t->addr, 4);
	} else {
		memcpy(&s->sin6_addr, t->addr, 16);
	}
	return sizeof *s;
}

/*
 * Decides what accept() reports for a new connection: the TOA client or the real peer.
 * Remembers a TOA client for getpeername(). Returns the length written to *report.
 */
static socklen_t decide(int lfd, int fd, const struct sockaddr_storage *peer, socklen_t peer_len,
			struct sockaddr_storage *report)
{
	char pbuf[64], cbuf[64];
	memcpy(report, peer, peer_len);
	/* A stale entry of an fd closed behind our back must not outlive this new socket. */
	fd_cache_drop(fd);
	if (peer->ss_family != AF_INET && peer->ss_family != AF_INET6)
		return peer_len;

	uint8_t syn[SYN_BUF];
	socklen_t syn_len = sizeof syn;
	if (getsockopt(fd, IPPROTO_TCP, TCP_SAVED_SYN, syn, &syn_len) != 0) {
		if (log_enabled())
			log_line("accept fd=%d peer=%s: TCP_SAVED_SYN failed (%s, %u bytes); untouched",
				 fd, fmt_sa((const struct sockaddr *)peer, pbuf, sizeof pbuf),
				 strerror(errno), (unsigned)syn_len);
		return peer_len;
	}
	if (syn_len == 0) {
		/* The listener predates us (inherited, socket activation) or the SYN was answered
		 * with a syncookie: ask for SYNs from now on. */
		if (log_enabled())
			log_line("accept fd=%d peer=%s: no saved SYN; untouched", fd,
				 fmt_sa((const struct sockaddr *)peer, pbuf, sizeof pbuf));
		if (lfd >= 0 && is_inet_tcp(lfd))
			enable_save_syn(lfd, "accept listener");
		return peer_len;
	}

	struct toa_addr toa;
	int r = toa_from_syn(syn, syn_len, &toa);
	if (r != TOA_FOUND_V4 && r != TOA_FOUND_V6) {
		if (log_enabled())
			log_line("accept fd=%d peer=%s: %s; untouched", fd,
				 fmt_sa((const struct sockaddr *)peer, pbuf, sizeof pbuf),
				 toa_result_name(r));
		return peer_len;
	}
	if (trust_broken || !trust_allows(&trust, (const struct sockaddr *)peer)) {
		if (log_enabled())
			log_line("accept fd=%d peer=%s: %s from an untrusted peer; untouched", fd,
				 fmt_sa((const struct sockaddr *)peer, pbuf, sizeof pbuf),
				 toa_result_name(r));
		return peer_len;
	}
	struct sockaddr_storage client;
	socklen_t client_len = toa_sockaddr(&toa, peer->ss_family, &client);
	if (client_len == 0) {
		if (log_enabled())
			log_line("accept fd=%d peer=%s: IPv6 TOA on an IPv4 socket; untouched", fd,
				 fmt_sa((const struct sockaddr *)peer, pbuf, sizeof pbuf));
		return peer_len;
	}
	struct fd_ident id;
	if (fd_ident_of(fd, &id) != 0 ||
	    fd_cache_put(fd, &id, (const struct sockaddr *)&client, client_len) != 0)
		log_line("accept fd=%d: cannot remember the client; getpeername() will report the"
			 " balancer", fd);
	if (log_enabled())
		log_line("accept fd=%d peer=%s: %s client=%s", fd,
			 fmt_sa((const struct sockaddr *)peer, pbuf, sizeof pbuf), toa_result_name(r),
			 fmt_sa((const struct sockaddr *)&client, cbuf, sizeof cbuf));
	memcpy(report, &client, client_len);
	return client_len;
}

/* accept()/accept4() body; use4 selects the real function. */
static int do_accept(int lfd, struct sockaddr *addr, socklen_t *addrlen, int flags, int use4)
{
	ensure_init();
	if ((use4 && real_accept4 == NULL) || (!use4 && real_accept == NULL)) {
		errno = ENOSYS;
		return -1;
	}
	/* Arguments the kernel would reject (or fault on) go to it untouched, for its errors. */
	if (addr != NULL && (addrlen == NULL || (int)*addrlen < 0))
		return use4 ? real_accept4(lfd, addr, addrlen, flags) : real_accept(lfd, addr, addrlen);

	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof peer;
	int fd = use4 ? real_accept4(lfd, (struct sockaddr *)&peer, &peer_len, flags)
		      : real_accept(lfd, (struct sockaddr *)&peer, &peer_len);
	if (fd < 0)
		return fd;
	int saved = errno;
	struct sockaddr_storage report;
	socklen_t report_len = decide(lfd, fd, &peer, peer_len, &report);
	if (addr != NULL) {
		/* accept(2): the address is truncated to the caller's buffer, and *addrlen says the
		 * full length. */
		socklen_t n = *addrlen < report_len ? *addrlen : report_len;
		memcpy(addr, &report, n);
		*addrlen = report_len;
	}
	errno = saved;
	return fd;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	return do_accept(fd, addr, addrlen, 0, 0);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags)
{
	return do_accept(fd, addr, addrlen, flags, 1);
}

EXPORT int listen(int fd, int backlog)
{
	ensure_init();
	if (real_listen == NULL) {
		errno = ENOSYS;
		return -1;
	}
	int saved = errno;
	if (is_inet_tcp(fd))
		enable_save_syn(fd, "listen");
	errno = saved;
	return real_listen(fd, backlog);
}

EXPORT int getpeername(int fd, struct sockaddr *addr, socklen_t *addrlen)
{
	ensure_init();
	if (real_getpeername == NULL) {
		errno = ENOSYS;
		return -1;
	}
	socklen_t cap = addrlen != NULL ? *addrlen : 0;
	int rc = real_getpeername(fd, addr, addrlen);
	if (rc != 0 || !fd_cache_maybe_has(fd))
		return rc;
	int saved = errno;
	struct fd_ident id;
	struct sockaddr_storage client;
	socklen_t len;
	if (fd_ident_of(fd, &id) == 0 && fd_cache_get(fd, &id, &client, &len)) {
		memcpy(addr, &client, cap < len ? cap : len);
		*addrlen = len;
		if (log_enabled()) {
			char buf[64];
			log_line("getpeername fd=%d: client=%s", fd,
				 fmt_sa((const struct sockaddr *)&client, buf, sizeof buf));
		}
	}
	errno = saved;
	return rc;
}

EXPORT int close(int fd)
{
	ensure_init();
	if (real_close == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* Forget before closing: once closed, another thread may accept onto the same number. */
	fd_cache_drop(fd);
	return real_close(fd);
}

/*
 * For tests (Deno FFI): parses a saved SYN like accept() does. out receives the port
 * (2 bytes, network order) then the address (4 or 16 bytes). Returns a toa_result.
 */
EXPORT int fullnat_toa_parse_syn(const uint8_t *syn, size_t len, uint8_t *out)
{
	struct toa_addr t;
	int r = toa_from_syn(syn, len, &t);
	if (r == TOA_FOUND_V4 || r == TOA_FOUND_V6) {
		memcpy(out, &t.port_be, 2);
		memcpy(out + 2, t.addr, r == TOA_FOUND_V4 ? 4 : 16);
	}
	return r;
}

/* For tests (Deno FFI): 1 when FULLNAT_TOA_TRUST, as parsed at load, trusts this peer. */
EXPORT int fullnat_toa_trusts(const struct sockaddr *peer)
{
	ensure_init();
	return !trust_broken && trust_allows(&trust, peer);
}

/* For tests: number of fds with a remembered client. */
EXPORT long fullnat_toa_cached(void)
{
	return fd_cache_count();
}
