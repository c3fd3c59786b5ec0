/**
 * Engine counters: one per outcome, so every packet the engine did not forward is accounted
 * for by a reason. Plain numeric fields, incremented on the hot path without allocating.
 *
 * @module
 */

/** Every counter the engine keeps. */
export interface EngineCounters {
  /** Packets seen. */
  packets: number;
  /** Packets rewritten and forwarded. */
  forwarded: number;
  /** Of those, DR packets forwarded unchanged with their real server's mark. */
  drRouted: number;
  /** Packets for no service and no session: passed on unchanged. */
  passedThrough: number;
  /** IPv4 header unsound: dropped or passed per policy. */
  malformedIp: number;
  /** TCP or UDP header unsound. */
  malformedL4: number;
  /** Packets that are neither IPv4 nor IPv6: passed on unchanged. */
  notIp: number;
  /** Fragments (IPv4, or IPv6 with a fragment header): diverted traffic is NOTRACK, so nothing reassembles it before the queue; they carry no ports to find a session by and are dropped. */
  fragments: number;
  /** Protocols other than TCP, UDP and ICMP to a diverted non-VIP address: passed on. */
  otherProtocol: number;
  /** Protocols other than TCP, UDP and ICMP sent to a VIP (AH, ESP, ...): dropped. */
  otherProtocolDropped: number;
  /** ICMP errors about a session, rewritten into the other end's view and forwarded. */
  icmpErrorsTranslated: number;
  /**
   * ICMP errors about a DR session's replies (quoting VIP -> client, which the real server
   * sent): passed unchanged to the real server by its DR route, as IPVS does.
   */
  icmpErrorsRouted: number;
  /** The same about a TUNNEL session's replies: wrapped unchanged to the real server. */
  icmpErrorsTunnelled: number;
  /** Of those for TUNNEL, dropped because they would outgrow the MTU once wrapped. */
  icmpErrorsNotForwarded: number;
  /** ICMP errors quoting no known session (about the box's own traffic): passed on. */
  icmpNoSession: number;
  /** ICMP errors whose quoted datagram is too short to identify a session. */
  icmpMalformedQuote: number;
  /** ICMP that is not a translated error (echo to a VIP, ...): passed on to the kernel. */
  icmpPassed: number;
  /** DF segments that could not take TOA within the MTU: answered "fragmentation needed". */
  toaFragNeeded: number;
  /** TCP segments other than a SYN for a service with no session: reset or dropped per policy. */
  tcpNoSession: number;
  /**
   * Of those and of `synProxyCookieInvalid`, answered with a RST to the client (no-session
   * policy `reset`).
   */
  noSessionResets: number;
  /**
   * Real servers that answered a new connection's SYN with a bare ACK: they still held a
   * connection on that tuple that the balancer had lost (an orphan). It was reset, and the
   * client's SYN retransmission then connects.
   */
  orphansReset: number;
  /**
   * Packets that would open a session (TCP SYN, UDP datagram with none) whose transport
   * checksum is wrong: dropped with no session made, as the real server would drop them. Not
   * checked when the kernel says the checksum is not filled in yet (offload).
   */
  badChecksum: number;
  /** New connections refused by their service's deny or allow list (dropped). */
  aclDenied: number;
  /** New connections refused: their source is over its service's `--source-rate` (dropped). */
  sourceRateRefused: number;
  /** New connections refused: their source holds its service's `--source-sessions` (dropped). */
  sourceSessionsRefused: number;
  /**
   * Sources forgotten by a full per-source table while they held sessions or a spent bucket:
   * their counts start again from zero (`source_table.ts`).
   */
  sourceEvictions: number;
  /** New connections refused because no real server has a positive weight. */
  noRealServer: number;
  /** New FULLNAT connections refused because the service has no local address. */
  noLocalAddress: number;
  /** New connections refused because no free local port was found within the bounded tries. */
  portExhausted: number;
  /** New connections refused because the session table is full. */
  tableFull: number;
  /** NAT-mode connections refused because the real-server side tuple was already in use. */
  natTupleInUse: number;
  /** Refused connection attempts answered with a TCP reset (reject policy `reset`). */
  resetsSent: number;
  /** TOA options inserted into client segments (SYN, third ACK, data before the RS spoke). */
  toaInserted: number;
  /** TOA skipped: the segment's options already fill more than 32 of their 40 bytes. */
  toaNoOptionSpace: number;
  /** TOA skipped: the grown segment would exceed the MTU. */
  toaTooBig: number;
  /** TOA options sent by clients and blanked (a client could otherwise claim any address). */
  toaSpoofRemoved: number;
  /** Timestamp options blanked in client SYNs. */
  timestampsStripped: number;
  /** Real-server SYN-ACKs whose MSS was lowered to leave room for TOA. */
  mssClamped: number;
  /** Client SYNs seen again with the same ISN: the sequence mapping was kept. */
  synRetransmits: number;
  /** Client SYNs with a new ISN on a session in a SYN or closing state: fresh mapping. */
  seqMappingsRenewed: number;
  /** SACK blocks in real-server segments translated back to the client's sequence space. */
  sackBlocksTranslated: number;
  /** ESTABLISHED sessions that expired and were reset at both ends. */
  expiryResets: number;
  /** ESTABLISHED sessions that expired unreset: nothing from the real server seen yet. */
  expiryResetsSkipped: number;
  sessionsCreated: number;
  sessionsExpired: number;
  /** Persistence templates made: a client (or prefix, `-M`) scheduled afresh. */
  templatesCreated: number;
  /** New connections sent where a live persistence template said. */
  templatesReused: number;
  /**
   * Persistence templates dropped on use because their real server was deleted, or quiesced
   * (weight 0) with `expireQuiescentTemplate` on: the scheduler chose again.
   */
  templatesInvalidated: number;
  /** Persistence templates forgotten after their timeout, with no session of theirs open. */
  templatesExpired: number;
  /** Times a real server reached its upper connection threshold (`-x`) and was passed over. */
  overloads: number;
  /** New connections refused while a server of their service was over its threshold. */
  overloadRefused: number;
  /** New connections scheduled elsewhere while a server of their service was over its threshold. */
  overloadRedirected: number;
  /** Datagrams of one-packet services (`-o`) each given a session of their own. */
  onePacketScheduled: number;
  /** Of those, sessions ended by the reply they were waiting for (their local port freed). */
  onePacketAnswered: number;
  /** Sessions ended at a client packet because their real server was deleted (`expireNodestConn`). */
  nodestExpired: number;
  /** Sessions ended by the end of a drain (`rs drain --within`), or by a control call. */
  serverSessionsEnded: number;
  /** Of those, TCP sessions reset at both ends. */
  serverSessionResets: number;
  /** TUNNEL client packets wrapped in IPIP / IPv6-in-IPv6 and sent to their real server. */
  tunnelEncapsulated: number;
  /** TUNNEL packets that no longer fit the MTU once wrapped: answered "fragmentation needed" / "packet too big". */
  tunnelFragNeeded: number;
  /** TUNNEL packets that were GSO super-packets: the kernel cannot segment them once wrapped, dropped. */
  tunnelGsoDropped: number;
  /** TUNNEL packets with no room left in the queue's buffer for the outer header: dropped. */
  tunnelNoRoom: number;
  /** TUNNEL packets dropped because the daemon has no tunnel source address of their family (`--tunnel-source`). */
  tunnelNoSource: number;
  /** Packets from a TUNNEL session's real server that crossed the balancer (replies should not): passed on unchanged. */
  tunnelReplySeen: number;
  /** SYN proxy: client SYNs answered with a cookie SYN-ACK (no state kept). */
  synProxyCookiesSent: number;
  /** SYN proxy: client ACKs with a good cookie: a connection to a real server is opened. */
  synProxyCookieValid: number;
  /**
   * SYN proxy: ACKs with no session and no good cookie (forged, too old, other secret, or a
   * lost session's segment): reset or dropped per no-session policy, as `tcpNoSession`.
   */
  synProxyCookieInvalid: number;
  /** SYN proxy: good cookies whose connection was refused (admission, no server, no port). */
  synProxyOpenRefused: number;
  /** SYN proxy: good cookies scheduled to a server not in FULLNAT mode: refused. */
  synProxyNotFullnat: number;
  /** SYN proxy: real servers' SYN-ACKs that completed a proxied connection. */
  synProxyServerAnswered: number;
  /** SYN proxy: real servers that refused the connection with a RST: the client is reset. */
  synProxyServerRefused: number;
  /** SYN proxy: other real-server packets before its SYN-ACK: dropped. */
  synProxyServerDropped: number;
  /**
   * SYN proxy: client packets after the cookie ACK held while the real server had not
   * answered (the cookie ACK itself is held too, uncounted: its outcome is the SYN it became).
   */
  synProxyHeld: number;
  /** SYN proxy: client packets dropped for want of a hold slot (the client retransmits). */
  synProxyHoldFull: number;
  /**
   * SYN proxy: held packets sent on once the real server answered. Each went through the
   * engine again (counted in `packets` and its outcome a second time, without a verdict).
   */
  synProxyReplayed: number;
  /** SYN proxy: held packets that went through the engine again and did not come out. */
  synProxyReplayDropped: number;
  /**
   * SYN proxy: client SYNs on the tuple of a proxied session (a port used again): the old
   * session ended and the SYN was answered with a cookie.
   */
  synProxyReused: number;
  /** SYN proxy: bare third ACKs sent to a real server because no client ACK was held. */
  synProxyAcksSent: number;
  /**
   * SYN proxy: held packets not sent on because their TTL (hop limit) ran out: a router
   * forwarding them would have dropped them too (they leave by the raw socket, which does not
   * take one from it, so the engine does).
   */
  synProxyHopLimitExceeded: number;
  /** Offload: sessions the kernel's conntrack took (`--offload established`, `offload.ts`). */
  offloaded: number;
  /** Offload: refused by the kernel, an entry on the tuple exists: the engine keeps the session. */
  offloadClash: number;
  /** Offload: refused by the kernel, its conntrack table is full: the engine keeps the session. */
  offloadFull: number;
  /** Offload: refused for another reason (a netlink error): the engine keeps the session. */
  offloadFailed: number;
  /** Offload: packets of offloaded sessions that reached the engine anyway, handled as before. */
  offloadFallback: number;
  /** Offload: kernel entries gone (destroy event or missing from a dump); their counts added. */
  offloadGone: number;
  /** Offload: reports of a gone entry that named no offloaded session (already handled). */
  offloadGoneStale: number;
  /** Offload: offloaded sessions the engine removed (deletion, drain): their entries deleted. */
  offloadWithdrawn: number;
  /**
   * Offload: sessions taken back from the kernel (the fast path switched off, or the session
   * closed through the queue while the kernel's entry still read ESTABLISHED).
   */
  offloadRecalled: number;
  /**
   * Offload: offloaded sessions whose kernel entry ended by idle timeout while ESTABLISHED:
   * an out-of-window ACK was sent to the real server to learn its sequence numbers
   * (`offload_expiry.ts`).
   */
  offloadExpiryProbes: number;
  /** Offload: probed sessions the real server's answer let the engine reset at both ends. */
  offloadExpiryResets: number;
  /**
   * Offload: probed sessions that ended without resets: the real server did not answer in
   * time, or answered with a RST (it holds no such connection).
   */
  offloadExpiryNoAnswer: number;
}

/** Zeroed counters. */
export function newEngineCounters(): EngineCounters {
  return {
    packets: 0,
    forwarded: 0,
    passedThrough: 0,
    malformedIp: 0,
    malformedL4: 0,
    notIp: 0,
    fragments: 0,
    otherProtocol: 0,
    otherProtocolDropped: 0,
    icmpErrorsTranslated: 0,
    icmpErrorsRouted: 0,
    icmpErrorsTunnelled: 0,
    icmpErrorsNotForwarded: 0,
    icmpNoSession: 0,
    icmpMalformedQuote: 0,
    icmpPassed: 0,
    toaFragNeeded: 0,
    tcpNoSession: 0,
    noSessionResets: 0,
    orphansReset: 0,
    badChecksum: 0,
    aclDenied: 0,
    sourceRateRefused: 0,
    sourceSessionsRefused: 0,
    sourceEvictions: 0,
    noRealServer: 0,
    noLocalAddress: 0,
    portExhausted: 0,
    tableFull: 0,
    natTupleInUse: 0,
    drRouted: 0,
    resetsSent: 0,
    toaInserted: 0,
    toaNoOptionSpace: 0,
    toaTooBig: 0,
    toaSpoofRemoved: 0,
    timestampsStripped: 0,
    mssClamped: 0,
    synRetransmits: 0,
    seqMappingsRenewed: 0,
    sackBlocksTranslated: 0,
    expiryResets: 0,
    expiryResetsSkipped: 0,
    sessionsCreated: 0,
    sessionsExpired: 0,
    templatesCreated: 0,
    templatesReused: 0,
    templatesInvalidated: 0,
    templatesExpired: 0,
    overloads: 0,
    overloadRefused: 0,
    overloadRedirected: 0,
    onePacketScheduled: 0,
    onePacketAnswered: 0,
    nodestExpired: 0,
    serverSessionsEnded: 0,
    serverSessionResets: 0,
    tunnelEncapsulated: 0,
    tunnelFragNeeded: 0,
    tunnelGsoDropped: 0,
    tunnelNoRoom: 0,
    tunnelNoSource: 0,
    tunnelReplySeen: 0,
    synProxyCookiesSent: 0,
    synProxyCookieValid: 0,
    synProxyCookieInvalid: 0,
    synProxyOpenRefused: 0,
    synProxyNotFullnat: 0,
    synProxyServerAnswered: 0,
    synProxyServerRefused: 0,
    synProxyServerDropped: 0,
    synProxyHeld: 0,
    synProxyHoldFull: 0,
    synProxyReplayed: 0,
    synProxyReplayDropped: 0,
    synProxyAcksSent: 0,
    synProxyHopLimitExceeded: 0,
    synProxyReused: 0,
    offloaded: 0,
    offloadClash: 0,
    offloadFull: 0,
    offloadFailed: 0,
    offloadFallback: 0,
    offloadGone: 0,
    offloadGoneStale: 0,
    offloadWithdrawn: 0,
    offloadRecalled: 0,
    offloadExpiryProbes: 0,
    offloadExpiryResets: 0,
    offloadExpiryNoAnswer: 0,
  };
}
