/**
 * Numbers of the ctnetlink protocol, from the kernel's UAPI headers
 * (`linux/netfilter/nfnetlink_conntrack.h`, `nf_conntrack_common.h`, `nf_conntrack_tcp.h`,
 * `nfnetlink.h`, `netlink.h`; checked against linux-libc-dev 6.1 and the kernel 6.x source).
 * The netlink basics every nfnetlink user shares (header sizes, `NLMSG_*`, socket options) are
 * the queue's, in `src/nfqueue/constants.ts`.
 *
 * @module
 */

/** nfnetlink subsystem id of conntrack (`NFNL_SUBSYS_CTNETLINK`). */
export const NFNL_SUBSYS_CTNETLINK = 1;
/** `enum cntl_msg_types`: create or update. */
export const IPCTNL_MSG_CT_NEW = 0;
/** Get one entry or dump the table. */
export const IPCTNL_MSG_CT_GET = 1;
/** Delete (also the type of destroy events). */
export const IPCTNL_MSG_CT_DELETE = 2;

/** `enum ctattr_type`. */
export const CTA = {
  TUPLE_ORIG: 1,
  TUPLE_REPLY: 2,
  STATUS: 3,
  PROTOINFO: 4,
  NAT_SRC: 6,
  TIMEOUT: 7,
  MARK: 8,
  COUNTERS_ORIG: 9,
  COUNTERS_REPLY: 10,
  ID: 12,
  NAT_DST: 13,
  SEQ_ADJ_ORIG: 15,
  SEQ_ADJ_REPLY: 16,
  ZONE: 18,
  MARK_MASK: 21,
} as const;

/** `enum ctattr_tuple`. */
export const CTA_TUPLE = { IP: 1, PROTO: 2, ZONE: 3 } as const;
/** `enum ctattr_ip`. */
export const CTA_IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const;
/** `enum ctattr_l4proto`. */
export const CTA_PROTO = { NUM: 1, SRC_PORT: 2, DST_PORT: 3 } as const;
/** `enum ctattr_protoinfo`. */
export const CTA_PROTOINFO_TCP = 1;
/** `enum ctattr_protoinfo_tcp`. */
export const CTA_TCP = {
  STATE: 1,
  WSCALE_ORIGINAL: 2,
  WSCALE_REPLY: 3,
  FLAGS_ORIGINAL: 4,
  FLAGS_REPLY: 5,
} as const;
/** `enum ctattr_counters` (64-bit values). */
export const CTA_COUNTERS = { PACKETS: 1, BYTES: 2 } as const;
/** `enum ctattr_nat`. */
export const CTA_NAT = { V4_MINIP: 1, V4_MAXIP: 2, PROTO: 3, V6_MINIP: 4, V6_MAXIP: 5 } as const;
/** `enum ctattr_protonat`. */
export const CTA_PROTONAT = { PORT_MIN: 1, PORT_MAX: 2 } as const;
/** `enum ctattr_seqadj`. */
export const CTA_SEQADJ = { CORRECTION_POS: 1, OFFSET_BEFORE: 2, OFFSET_AFTER: 3 } as const;

/** `IPS_*` status bits (`enum ip_conntrack_status`). */
export const IPS = {
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
  SEQ_ADJUST: 1 << 6,
  SRC_NAT_DONE: 1 << 7,
  DST_NAT_DONE: 1 << 8,
  DYING: 1 << 9,
} as const;

/** `TCP_CONNTRACK_ESTABLISHED`. */
export const TCP_CONNTRACK_ESTABLISHED = 3;
/** `IP_CT_TCP_FLAG_*` (`struct nf_ct_tcp_flags` is `{u8 flags; u8 mask}`). */
export const IP_CT_TCP_FLAG = { WINDOW_SCALE: 0x01, SACK_PERM: 0x02, BE_LIBERAL: 0x08 } as const;

/** Multicast groups (`enum nfnetlink_groups`). */
export const NFNLGRP = { CONNTRACK_NEW: 1, CONNTRACK_UPDATE: 2, CONNTRACK_DESTROY: 3 } as const;

/** `nlmsg_flags` of requests and dumps (`linux/netlink.h`). */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  DUMP: 0x300,
  EXCL: 0x200,
  CREATE: 0x400,
} as const;

/** setsockopt(SOL_NETLINK) names not in the queue's constants. */
export const NETLINK_ADD_MEMBERSHIP = 1;
/** Failed deliveries to this listener are reported to the sender (reliable events). */
export const NETLINK_BROADCAST_ERROR = 4;
/** Error acknowledgements carry only the failed message's header, not the whole request. */
export const NETLINK_CAP_ACK = 10;

/** Address families of `nfgenmsg.nfgen_family`. */
export const AF_INET = 2;
/** IPv6. */
export const AF_INET6 = 10;
/** IP protocol numbers. */
export const IPPROTO_TCP = 6;
/** UDP. */
export const IPPROTO_UDP = 17;

/** errno values the results name. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ENOMEM: 12,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ENOBUFS: 105,
  ETIMEDOUT: 110,
} as const;
