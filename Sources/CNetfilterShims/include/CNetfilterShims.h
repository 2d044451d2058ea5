#ifndef CNETFILTER_SHIMS_H
#define CNETFILTER_SHIMS_H
// What Swift cannot import from libmnl and the kernel headers: function-like and expression macros, and
// declarations glibc only exposes under _GNU_SOURCE (setns, recvmmsg), which this target defines.
#include <stddef.h>
#include <stdint.h>

/// NLMSG_ALIGN(len): netlink's 4-byte message alignment.
uint32_t CNetfilter_NLMSG_ALIGN(uint32_t len);
/// NLMSG_HDRLEN: the aligned size of struct nlmsghdr.
uint32_t CNetfilter_NLMSG_HDRLEN(void);
/// setns(fd, CLONE_NEWNET) for the calling thread; returns 0 or -1 with errno set.
int CNetfilter_setns_net(int fd);
/// recvmmsg into `count` slots of `slot` bytes of `buffer`, waiting for the first datagram only
/// (MSG_WAITFORONE). Stores each datagram's length in `lengths` (or -1 when it was truncated). Returns the
/// number of datagrams, or -1 with errno set.
int CNetfilter_recvmmsg(int fd, void *buffer, size_t slot, unsigned int count, long *lengths);

#endif
