#ifndef FOLLOWUP_CEPOLL_H
#define FOLLOWUP_CEPOLL_H

/* The Postgres client's one I/O loop (Sources/Postgres/PostgresIOLoop.swift) waits on epoll:
   Linux only. Small wrappers, because Swift imports epoll_event (a packed union) awkwardly. */

#ifdef __linux__
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

/* An epoll set for the connections' sockets. -1 on failure. */
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

/* Watches `fd` (an eventfd) for readability until removed: level-triggered, not one-shot. */
static inline int followup_epoll_watch(int epfd, int fd) {
    struct epoll_event event;
    event.events = EPOLLIN;
    event.data.fd = fd;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event);
}

/* Waits for ready sockets; writes up to `max` (at most 64) of them to `fds`. epoll_wait's result. */
static inline int followup_epoll_wait(int epfd, int *fds, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int count = epoll_wait(epfd, events, max, timeout_ms);
    for (int i = 0; i < count; i++) fds[i] = events[i].data.fd;
    return count;
}

/* An eventfd that interrupts epoll_wait (a waiter with an earlier deadline arrived). */
static inline int followup_eventfd_create(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }
static inline void followup_eventfd_signal(int fd) { uint64_t one = 1; (void)!write(fd, &one, sizeof one); }
static inline void followup_eventfd_drain(int fd) { uint64_t value; (void)!read(fd, &value, sizeof value); }

/* Blocks until `fd` is readable (or writable), or fails: the loop's fallback without epoll. */
static inline int followup_wait_socket(int fd, int writable) {
    struct pollfd entry;
    entry.fd = fd;
    entry.events = writable ? POLLOUT : POLLIN;
    entry.revents = 0;
    return poll(&entry, 1, -1);
}
#endif

#endif
