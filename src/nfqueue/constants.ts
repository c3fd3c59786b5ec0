/**
 * Numeric constants of Linux netlink, nfnetlink_queue and the socket API that the queue
 * needs. Values are from the kernel's UAPI headers (`linux/netlink.h`,
 * `linux/netfilter/nfnetlink_queue.h`, `bits/socket.h`) for x86_64/aarch64 Linux.
 *
 * @module
 */

/** `AF_NETLINK` address family. */
export const AF_NETLINK = 16;
/** Netlink protocol of the netfilter subsystems. */
export const NETLINK_NETFILTER = 12;
/** `AF_UNSPEC`, the family the verdict and config messages carry. */
export const AF_UNSPEC = 0;

/** `SOL_SOCKET` level for setsockopt. */
export const SOL_SOCKET = 1;
/** `SOL_NETLINK` level for setsockopt. */
export const SOL_NETLINK = 270;
/** Send buffer size (capped by `net.core.wmem_max`). */
export const SO_SNDBUF = 7;
/** Receive buffer size (capped by `net.core.rmem_max`). */
export const SO_RCVBUF = 8;
/** Receive timeout, a `struct timeval`. */
export const SO_RCVTIMEO = 20;
/** Send buffer size ignoring `wmem_max`; needs CAP_NET_ADMIN. */
export const SO_SNDBUFFORCE = 32;
/** Receive buffer size ignoring `rmem_max`; needs CAP_NET_ADMIN. */
export const SO_RCVBUFFORCE = 33;
/** Do not report receive-queue overruns as ENOBUFS (the kernel counts them instead). */
export const NETLINK_NO_ENOBUFS = 5;

/** recv flag: do not block. */
export const MSG_DONTWAIT = 0x40;
/** msg_flags bit: the datagram was larger than the buffer. */
export const MSG_TRUNC = 0x20;
/** recvmmsg flag: block for the first datagram only. */
export const MSG_WAITFORONE = 0x10000;

/** Netlink message header length (`struct nlmsghdr`). */
export const NLMSG_HDRLEN = 16;
/** `struct nfgenmsg` length, the extra header of every nfnetlink message. */
export const NFGENMSG_LEN = 4;
/** Netlink attribute header length (`struct nlattr`). */
export const NLA_HDRLEN = 4;
/** Mask that removes the nested / byte-order flag bits from `nla_type`. */
export const NLA_TYPE_MASK = 0x3fff;

/** `nlmsg_flags`: a request. */
export const NLM_F_REQUEST = 0x1;
/** `nlmsg_flags`: ask for an acknowledgement. */
export const NLM_F_ACK = 0x4;

/** Control message types. */
export const NLMSG_NOOP = 1;
/** An error report or, with error 0, an acknowledgement. */
export const NLMSG_ERROR = 2;
/** End of a multipart dump. */
export const NLMSG_DONE = 3;
/** Data lost (not produced by nfnetlink, recognised for completeness). */
export const NLMSG_OVERRUN = 4;

/** nfnetlink subsystem id of the queue. */
export const NFNL_SUBSYS_QUEUE = 3;
/** Queue message: a packet from the kernel. */
export const NFQNL_MSG_PACKET = 0;
/** Queue message: a verdict to the kernel. */
export const NFQNL_MSG_VERDICT = 1;
/** Queue message: configuration. */
export const NFQNL_MSG_CONFIG = 2;
/** `nlmsg_type` of a packet message, `(NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET`. */
export const NFQ_TYPE_PACKET = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET;
/** `nlmsg_type` of a verdict message. */
export const NFQ_TYPE_VERDICT = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT;

/** Packet message attributes (`enum nfqnl_attr_type`). */
export const NFQA_PACKET_HDR = 1;
/** Verdict header attribute. */
export const NFQA_VERDICT_HDR = 2;
/** Packet mark. */
export const NFQA_MARK = 3;
/** Input interface index. */
export const NFQA_IFINDEX_INDEV = 5;
/** Output interface index. */
export const NFQA_IFINDEX_OUTDEV = 6;
/** The packet bytes. */
export const NFQA_PAYLOAD = 10;
/** Original packet length when the payload was truncated to the copy range. */
export const NFQA_CAP_LEN = 13;
/** skb metadata flags (`NFQA_SKB_*`). */
export const NFQA_SKB_INFO = 14;

/** `NFQA_SKB_INFO` bit: the checksum is not filled in yet (checksum offload pending). */
export const NFQA_SKB_CSUMNOTREADY = 1 << 0;
/** `NFQA_SKB_INFO` bit: a GSO super-packet (larger than the device MTU). */
export const NFQA_SKB_GSO = 1 << 1;
/** `NFQA_SKB_INFO` bit: the checksum was not verified by the device. */
export const NFQA_SKB_CSUM_NOTVERIFIED = 1 << 2;

/** Config commands (`enum nfqnl_msg_config_cmds`). */
export const NFQNL_CFG_CMD_BIND = 1;
/** Unbind a queue. */
export const NFQNL_CFG_CMD_UNBIND = 2;
/** Copy whole packets (`enum nfqnl_config_mode`). */
export const NFQNL_COPY_PACKET = 2;
/** Largest copy range the kernel accepts (0xffff minus an attribute header). */
export const NFQNL_MAX_COPY_RANGE = 0xffff - NLA_HDRLEN;

/** Config attribute: flags value. */
export const NFQA_CFG_MASK = 4;
/** Config attribute: which flags `NFQA_CFG_FLAGS` changes. */
export const NFQA_CFG_FLAGS = 5;
/** Queue flag: accept instead of drop when the queue is full. */
export const NFQA_CFG_F_FAIL_OPEN = 1 << 0;
/** Queue flag: deliver GSO super-packets without segmenting them first. */
export const NFQA_CFG_F_GSO = 1 << 2;

/** Netfilter verdicts. */
export const NF_DROP = 0;
/** Let the packet continue. */
export const NF_ACCEPT = 1;

/** Byte offsets inside `struct mmsghdr` on 64-bit Linux (56-byte msghdr + msg_len). */
export const MMSGHDR_SIZE = 64;
/** `msghdr.msg_iov`. */
export const MMSG_IOV = 16;
/** `msghdr.msg_iovlen`. */
export const MMSG_IOVLEN = 24;
/** `msghdr.msg_flags`. */
export const MMSG_FLAGS = 48;
/** `mmsghdr.msg_len`. */
export const MMSG_LEN = 56;
/** `struct iovec` size. */
export const IOVEC_SIZE = 16;

/** errno values (Linux, asm-generic). */
export const EPERM = 1;
/** No such file or directory / entry (a verdict for an unknown packet id). */
export const ENOENT = 2;
/** Interrupted system call. */
export const EINTR = 4;
/** Bad file descriptor. */
export const EBADF = 9;
/** Out of memory. */
export const ENOMEM = 12;
/** Try again (also: SO_RCVTIMEO expired). */
export const EAGAIN = 11;
/** Device or resource busy. */
export const EBUSY = 16;
/** No such device (no such queue). */
export const ENODEV = 19;
/** Invalid argument. */
export const EINVAL = 22;
/** Message too long for the socket's send buffer. */
export const EMSGSIZE = 90;
/** Protocol not supported (kernel without nfnetlink). */
export const EPROTONOSUPPORT = 93;
/** Operation not supported. */
export const EOPNOTSUPP = 95;
/** No buffer space: the socket's receive queue overran. */
export const ENOBUFS = 105;

/**
 * Packets a queue holds while its reader is busy (our default `queue_maxlen`). The kernel's own
 * default of 1024 is 3 ms of traffic at 300k packets/s: a garbage collection or a configuration
 * change on the reader's thread would overflow it.
 */
export const DEFAULT_QUEUE_MAXLEN = 16384;

/** Receive buffer of a queue's netlink socket, bytes (the kernel doubles it). */
export const DEFAULT_QUEUE_BUFFER_BYTES = 32 << 20;
