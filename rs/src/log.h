/*
 * Decision log of the shim, off unless FULLNAT_TOA_LOG is set: "1" or "stderr" writes to
 * standard error, an absolute path appends to that file. One write() per line, so lines of
 * concurrent threads and processes (nginx workers) do not interleave. Never changes errno.
 */
#ifndef FULLNAT_LOG_H
#define FULLNAT_LOG_H

/* Reads FULLNAT_TOA_LOG; call once from the library constructor. */
void log_init(void);

/* 1 when logging is on, so callers can skip formatting addresses. */
int log_enabled(void);

/* printf-style; the line is prefixed with "fullnat-toa[pid]: " and ends with a newline. */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
