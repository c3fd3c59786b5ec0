/* See fd_cache.h. */
#include "fd_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/stat.h>

/* Two levels, so the table never moves (readers of the top level need no lock) and memory
 * grows only with the fd numbers actually used: 1024 chunks of 1024 entries = 1M fds. */
#define CHUNK_BITS 10
#define CHUNK_SIZE (1 << CHUNK_BITS)
#define CHUNKS 1024
#define MAX_FD (CHUNKS * CHUNK_SIZE)

struct entry {
	int used;
	struct fd_ident id;
	socklen_t len;
	struct sockaddr_in6 sa; /* only AF_INET and AF_INET6 are cached; both fit */
};

static _Atomic(struct entry *) chunks[CHUNKS];
static atomic_long live;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork(void) { pthread_mutex_unlock(&lock); }

void fd_cache_init(void)
{
	pthread_atfork(before_fork, after_fork, after_fork);
}

int fd_ident_of(int fd, struct fd_ident *id)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return 0;
}

static struct entry *slot(int fd, int create)
{
	if (fd < 0 || fd >= MAX_FD)
		return NULL;
	_Atomic(struct entry *) *top = &chunks[fd >> CHUNK_BITS];
	struct entry *c = atomic_load_explicit(top, memory_order_acquire);
	if (c == NULL && create) {
		/* Called with the lock held, so no other thread can install the chunk meanwhile. */
		c = calloc(CHUNK_SIZE, sizeof *c);
		if (c == NULL)
			return NULL;
		atomic_store_explicit(top, c, memory_order_release);
	}
	return c == NULL ? NULL : &c[fd & (CHUNK_SIZE - 1)];
}

int fd_cache_put(int fd, const struct fd_ident *id, const struct sockaddr *sa, socklen_t len)
{
	if (len > sizeof(struct sockaddr_in6))
		return -1;
	pthread_mutex_lock(&lock);
	struct entry *e = slot(fd, 1);
	if (e == NULL) {
		pthread_mutex_unlock(&lock);
		return -1;
	}
	if (!e->used)
		atomic_fetch_add(&live, 1);
	e->used = 1;
	e->id = *id;
	e->len = len;
	memcpy(&e->sa, sa, len);
	pthread_mutex_unlock(&lock);
	return 0;
}

int fd_cache_get(int fd, const struct fd_ident *id, struct sockaddr_storage *sa, socklen_t *len)
{
	int hit = 0;
	pthread_mutex_lock(&lock);
	struct entry *e = slot(fd, 0);
	if (e != NULL && e->used) {
		if (e->id.dev == id->dev && e->id.ino == id->ino) {
			memcpy(sa, &e->sa, e->len);
			*len = e->len;
			hit = 1;
		} else {
			e->used = 0;
			atomic_fetch_sub(&live, 1);
		}
	}
	pthread_mutex_unlock(&lock);
	return hit;
}

int fd_cache_maybe_has(int fd)
{
	if (atomic_load_explicit(&live, memory_order_relaxed) == 0)
		return 0;
	if (fd < 0 || fd >= MAX_FD)
		return 0;
	return atomic_load_explicit(&chunks[fd >> CHUNK_BITS], memory_order_acquire) != NULL;
}

void fd_cache_drop(int fd)
{
	if (!fd_cache_maybe_has(fd))
		return;
	pthread_mutex_lock(&lock);
	struct entry *e = slot(fd, 0);
	if (e != NULL && e->used) {
		e->used = 0;
		atomic_fetch_sub(&live, 1);
	}
	pthread_mutex_unlock(&lock);
}

long fd_cache_count(void)
{
	return atomic_load(&live);
}
