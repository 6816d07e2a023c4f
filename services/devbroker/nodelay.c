/*
 * nodelay: TCP_NODELAY on every connection the mock cluster accepts, as a real Kafka broker
 * sets it (socket.nagle.disable on its side).
 *
 * librdkafka 2.0.2's mock cluster leaves Nagle's algorithm on for the sockets it accepts. A
 * client waiting for a response then meets the classic Nagle/delayed-ACK stall: about 40 ms
 * per round trip on loopback. Each import (records, then the end markers) waited ~90 ms for
 * nothing: 300 small files took 27 s instead of well under one (measured by
 * tests/bench/bench_authority.sh; with the kernel's quickack on the loopback route the same
 * 30 files took 55 ms instead of 2.5 s). The mock has no API for its socket options, so this
 * program defines accept(): the dynamic linker binds librdkafka's call to it (an executable's
 * definition comes first), and it calls libc's accept and sets the option. Only this
 * development tool does this; the services talk to whatever broker they are given.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
    static int (*real_accept)(int, struct sockaddr *, socklen_t *);
    if (!real_accept)
        *(void **)&real_accept = dlsym(RTLD_NEXT, "accept");
    if (!real_accept)
        return accept4(fd, addr, len, 0);
    int s = real_accept(fd, addr, len);
    if (s >= 0) {
        int one = 1;
        (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* best effort */
    }
    return s;
}
