// libnftnl + libmnl for the Netfilter module.
// glibc's netinet/in.h and net/if.h come first so the kernel's libc-compat.h suppresses the duplicate
// in6_addr/ifreq definitions the netfilter uapi headers would otherwise bring in.
#include <netinet/in.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
