/* See log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int log_fd = -1;

void log_init(void)
{
	const char *v = getenv("FULLNAT_TOA_LOG");
	if (v == NULL || v[0] == '\0' || strcmp(v, "0") == 0)
		return;
	if (strcmp(v, "1") == 0 || strcmp(v, "stderr") == 0) {
		log_fd = STDERR_FILENO;
		return;
	}
	if (v[0] != '/') {
		/* A relative path would depend on the server's working directory at start-up. */
		dprintf(STDERR_FILENO,
			"fullnat-toa: FULLNAT_TOA_LOG=%s is neither 1, stderr nor an absolute path;"
			" logging to stderr\n", v);
		log_fd = STDERR_FILENO;
		return;
	}
	log_fd = open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		dprintf(STDERR_FILENO, "fullnat-toa: cannot open FULLNAT_TOA_LOG=%s: %s; logging to stderr\n",
			v, strerror(errno));
		log_fd = STDERR_FILENO;
	}
}

int log_enabled(void)
{
	return log_fd >= 0;
}

void log_line(const char *fmt, ...)
{
	if (log_fd < 0)
		return;
	int saved = errno;
	char line[512];
	int n = snprintf(line, sizeof line, "fullnat-toa[%d]: ", (int)getpid());
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';
	ssize_t w = write(log_fd, line, len);
	(void)w;
	errno = saved;
}
