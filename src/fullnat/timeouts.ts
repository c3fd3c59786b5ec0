/**
 * Session timeouts (`ipvsadm --set`), per TCP state and for UDP.
 *
 * @module
 */
/** Session timeouts in seconds, per TCP state and for UDP. */
export interface Timeouts {
  tcpEstablished: number;
  tcpSynSent: number;
  tcpSynRecv: number;
  /**
   * How long a SYN_RECV session whose real server has answered (SYN-ACK) waits for its client's
   * ACK, counted from the client's last SYN: the real server's SYN-ACK retransmissions do not
   * extend it (README "Under a SYN flood"). Not a state of IPVS's; fullnat's own.
   */
  tcpSynAck: number;
  tcpFinWait: number;
  tcpTimeWait: number;
  tcpClose: number;
  tcpCloseWait: number;
  tcpLastAck: number;
  udp: number;
}

/** Defaults of Alibaba LVS and DPVS (Alibaba LVS `ip_vs_proto_tcp.c`, DPVS `proto_tcp.c`; README "Behaviour worth knowing"). */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = Object.freeze({
  tcpEstablished: 90,
  tcpSynSent: 3,
  tcpSynRecv: 30,
  tcpSynAck: 5,
  tcpFinWait: 7,
  tcpTimeWait: 7,
  tcpClose: 3,
  tcpCloseWait: 7,
  tcpLastAck: 7,
  udp: 300,
});

/** Every timeout's name, in the order of {@linkcode Timeouts} (and of every listing of them). */
export const TIMEOUT_KEYS: readonly (keyof Timeouts)[] = Object.keys(
  DEFAULT_TIMEOUTS,
) as (keyof Timeouts)[];
