#ifndef FOLLOWUP_CLIBPQ_SHIM_H
#define FOLLOWUP_CLIBPQ_SHIM_H

#include <libpq-fe.h>
#include <poll.h>
#include <errno.h>
#include <sys/epoll.h>

/* PG_DIAG_* are char literals ('C', 'M', ...) that Swift imports awkwardly; name them. */
static inline int followup_pg_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int followup_pg_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int followup_pg_diag_message_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int followup_pg_diag_message_hint(void) { return PG_DIAG_MESSAGE_HINT; }
static inline int followup_pg_diag_constraint_name(void) { return PG_DIAG_CONSTRAINT_NAME; }
static inline int followup_pg_diag_table_name(void) { return PG_DIAG_TABLE_NAME; }
static inline int followup_pg_diag_column_name(void) { return PG_DIAG_COLUMN_NAME; }
static inline int followup_pg_diag_severity(void) { return PG_DIAG_SEVERITY_NONLOCALIZED; }

/* Wait until the connection's socket is readable, or timeout_ms passes. Returns poll()'s result. */
static inline int followup_pg_wait_readable(PGconn *conn, int timeout_ms) {
    struct pollfd fd;
    fd.fd = PQsocket(conn);
    fd.events = POLLIN;
    fd.revents = 0;
    if (fd.fd < 0) return -1;
    return poll(&fd, 1, timeout_ms);
}

/* Blocks until `fd` is readable (or writable), or fails: PostgresIOLoop's fallback without epoll. */
static inline int followup_wait_socket(int fd, int writable) {
    struct pollfd entry;
    entry.fd = fd;
    entry.events = writable ? POLLOUT : POLLIN;
    entry.revents = 0;
    return poll(&entry, 1, -1);
}

/* An epoll set for the connections' sockets (see PostgresIOLoop). */
static inline int followup_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

/* Arms `fd` for one readiness event (readable, or writable when `writable` is set). */
static inline int followup_epoll_arm(int epfd, int fd, int writable) {
    struct epoll_event event;
    event.events = (writable ? EPOLLOUT : EPOLLIN) | EPOLLONESHOT;
    event.data.fd = fd;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) == 0) return 0;
    if (errno == ENOENT) return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
    return -1;
}

/* Waits for ready sockets; writes up to `max` (at most 64) of them to `fds`. epoll_wait's result. */
static inline int followup_epoll_wait(int epfd, int *fds, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int count = epoll_wait(epfd, events, max, timeout_ms);
    for (int i = 0; i < count; i++) fds[i] = events[i].data.fd;
    return count;
}

#endif
