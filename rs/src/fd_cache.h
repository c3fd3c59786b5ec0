/*
 * Per-file-descriptor cache of the client address to report for an accepted socket.
 *
 * The kernel hands out a saved SYN only once, so the address read at accept() is kept here
 * for later getpeername() calls. Entries are tied to the socket's identity (device and inode
 * of the fd), so an entry left behind by an fd closed without going through close() (fclose
 * on fdopen, close_range, dup2 over it) is recognised as stale and never reported for an
 * unrelated socket that reuses the number.
 *
 * Thread-safe (one mutex, fork-safe through pthread_atfork); close() of an fd that was never
 * cached costs two atomic loads and no lock.
 */
#ifndef FULLNAT_FD_CACHE_H
#define FULLNAT_FD_CACHE_H

#include <sys/socket.h>
#include <sys/types.h>

/* Identity of the socket behind an fd. */
struct fd_ident {
	dev_t dev;
	ino_t ino;
};

/* Fills *id from fstat(fd); returns 0, or -1 when the fd cannot be examined. */
int fd_ident_of(int fd, struct fd_ident *id);

/* Remembers the address for fd; returns 0, or -1 when fd is out of range or memory ran out. */
int fd_cache_put(int fd, const struct fd_ident *id, const struct sockaddr *sa, socklen_t len);

/*
 * Copies the address remembered for fd into sa and len when the entry's identity matches id;
 * a stale entry is dropped. Returns 1 on a hit, 0 otherwise.
 */
int fd_cache_get(int fd, const struct fd_ident *id, struct sockaddr_storage *sa, socklen_t *len);

/* Returns 1 when an entry (possibly stale) exists for fd; cheap and lock-free. */
int fd_cache_maybe_has(int fd);

/* Forgets fd. */
void fd_cache_drop(int fd);

/* Number of live entries (for tests and logs). */
long fd_cache_count(void);

/* Installs the fork handlers; call once from the library constructor. */
void fd_cache_init(void);

#endif
