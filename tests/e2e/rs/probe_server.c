/*
 * A small TCP server for testing the TOA shim from the application's side. It reports, for
 * each connection, what the C library calls a server makes returned:
 *
 *   probe_server ADDR PORT ACCEPT CLOSE THREADS
 *     ACCEPT: accept | accept4 | accept-null (no address; only getpeername) |
 *             accept-short (an 8-byte address buffer: truncation)
 *     CLOSE:  close | raw (the close system call, bypassing the shim's close())
 *
 * Prints "ready" once listening. Per connection it reads one line and answers one line:
 *   fd=5 accept=198.51.100.2:8080 alen=16 peer=198.51.100.2:8080 plen=16 short=ok errno=ok
 * then closes. `short` checks getpeername() into a 4-byte buffer (the length reported must be
 * the full one and the bytes a prefix of the full address); `errno` checks that accept and
 * getpeername left errno as it was before the call (both succeeded).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int lfd;
static const char *accept_mode;
static const char *close_mode;

static void fmt(const struct sockaddr *sa, char *buf, size_t n)
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
		snprintf(buf, n, "family%d", sa->sa_family);
	}
}

static void serve_one(void)
{
	struct sockaddr_storage a;
	memset(&a, 0, sizeof a);
	socklen_t alen = sizeof a;
	int errno_ok = 1;
	int fd;
	errno = EXDEV;
	if (strcmp(accept_mode, "accept") == 0)
		fd = accept(lfd, (struct sockaddr *)&a, &alen);
	else if (strcmp(accept_mode, "accept-null") == 0)
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	else if (strcmp(accept_mode, "accept-short") == 0) {
		alen = 8;
		fd = accept4(lfd, (struct sockaddr *)&a, &alen, SOCK_CLOEXEC);
	} else
		fd = accept4(lfd, (struct sockaddr *)&a, &alen, SOCK_CLOEXEC);
	if (fd < 0) {
		perror("accept");
		return;
	}
	if (errno != EXDEV)
		errno_ok = 0;

	struct sockaddr_storage p;
	socklen_t plen = sizeof p;
	errno = EXDEV;
	if (getpeername(fd, (struct sockaddr *)&p, &plen) != 0) {
		perror("getpeername");
		plen = 0;
		p.ss_family = AF_UNSPEC;
	} else if (errno != EXDEV) {
		errno_ok = 0;
	}
	unsigned char tiny[4];
	socklen_t tlen = sizeof tiny;
	int short_ok = getpeername(fd, (struct sockaddr *)tiny, &tlen) == 0 && tlen == plen &&
		       memcmp(tiny, &p, sizeof tiny) == 0;

	char line[256];
	ssize_t got = read(fd, line, sizeof line - 1);
	(void)got;
	char as[80] = "none", ps[80];
	if (strcmp(accept_mode, "accept-short") == 0) {
		/* Only the first 8 bytes arrived: family, port, and the first 4 address bytes. */
		struct sockaddr_storage full;
		memset(&full, 0, sizeof full);
		memcpy(&full, &a, 8);
		fmt((struct sockaddr *)&full, as, sizeof as);
	} else if (strcmp(accept_mode, "accept-null") != 0) {
		fmt((struct sockaddr *)&a, as, sizeof as);
	}
	fmt((struct sockaddr *)&p, ps, sizeof ps);
	char out[512];
	int n = snprintf(out, sizeof out, "fd=%d accept=%s alen=%u peer=%s plen=%u short=%s errno=%s\n",
			 fd, as, (unsigned)alen, ps, (unsigned)plen, short_ok ? "ok" : "bad",
			 errno_ok ? "ok" : "bad");
	ssize_t w = write(fd, out, (size_t)n);
	(void)w;
	if (strcmp(close_mode, "raw") == 0)
		syscall(SYS_close, fd);
	else
		close(fd);
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;)
		serve_one();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: probe_server ADDR PORT ACCEPT CLOSE THREADS\n");
		return 2;
	}
	accept_mode = argv[3];
	close_mode = argv[4];
	int threads = atoi(argv[5]);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	socklen_t sl;
	int port = atoi(argv[2]);
	if (strchr(argv[1], ':') != NULL) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons((unsigned short)port);
		inet_pton(AF_INET6, argv[1], &s->sin6_addr);
		sl = sizeof *s;
	} else {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET;
		s->sin_port = htons((unsigned short)port);
		inet_pton(AF_INET, argv[1], &s->sin_addr);
		sl = sizeof *s;
	}
	lfd = socket(ss.ss_family, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(lfd, (struct sockaddr *)&ss, sl) != 0 || listen(lfd, 128) != 0) {
		perror("bind/listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (int i = 1; i < threads; i++) {
		pthread_t t;
		pthread_create(&t, NULL, worker, NULL);
	}
	worker(NULL);
	return 0;
}
