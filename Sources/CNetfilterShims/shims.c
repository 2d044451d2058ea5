#define _GNU_SOURCE
#include "CNetfilterShims.h"
#include <sched.h>
#include <sys/socket.h>
#include <linux/netlink.h>

uint32_t CNetfilter_NLMSG_ALIGN(uint32_t len) { return NLMSG_ALIGN(len); }
uint32_t CNetfilter_NLMSG_HDRLEN(void) { return NLMSG_HDRLEN; }

int CNetfilter_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }

int CNetfilter_recvmmsg(int fd, void *buffer, size_t slot, unsigned int count, long *lengths) {
    struct iovec iov[count];
    struct mmsghdr headers[count];
    for (unsigned int i = 0; i < count; i++) {
        iov[i].iov_base = (char *)buffer + i * slot;
        iov[i].iov_len = slot;
        headers[i] = (struct mmsghdr){0};
        headers[i].msg_hdr.msg_iov = &iov[i];
        headers[i].msg_hdr.msg_iovlen = 1;
    }
    int received = recvmmsg(fd, headers, count, MSG_WAITFORONE, NULL);
    for (int i = 0; i < received; i++)
        lengths[i] = (headers[i].msg_hdr.msg_flags & MSG_TRUNC) ? -1 : (long)headers[i].msg_len;
    return received;
}
