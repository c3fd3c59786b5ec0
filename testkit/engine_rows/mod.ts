/**
 * Every scenario of engine rows, by design section, for the benchmark that replays them all.
 *
 * @module
 */
import { DELETED_LOCAL_ADDRESS, DELETED_SERVICE } from "./drain.ts";
import { EXPIRY_ESTABLISHED, EXPIRY_SILENT_SERVER, EXPIRY_TIMEOUTS } from "./expiry.ts";
import { FULLNAT_HANDSHAKE, FULLNAT_HANDSHAKE_V6 } from "./fullnat_transmit.ts";
import {
  ICMP6_BOTH_WAYS,
  ICMP_NO_SESSION_AND_IPSEC,
  ICMP_TCP_BOTH_WAYS,
  ICMP_UDP_UNREACHABLE,
} from "./icmp.ts";
import { LOCAL_PORTS } from "./local_address.ts";
import { NAT_ADDRESSES, NAT_NO_SEQUENCE } from "./nat_mode.ts";
import { PERSISTENT_CLIENT } from "./persistence.ts";
import {
  MALFORMED_ACCEPTED,
  NO_LOCAL_ADDRESS_RESET,
  NO_LOCAL_ADDRESS_RESET_V6,
  NO_SERVER_DROPPED,
  NO_SESSION_DROPPED,
  NOT_A_SESSION,
  ORPHAN_ON_SERVER,
} from "./refusals.ts";
import type { Scenario } from "./scenario.ts";
import { SYN_RETRANSMIT_AND_RENEW } from "./sequence.ts";
import { OPTIONS_SWITCHED_OFF } from "./timestamps_mss.ts";
import { TOA_GSO, TOA_SKIPS, TOA_SPOOF } from "./toa.ts";
import { UDP_FULLNAT, UDP_FULLNAT_V6 } from "./udp.ts";

export type { Scenario } from "./scenario.ts";

/** The scenarios in design-section order. */
export const SCENARIOS: readonly Scenario[] = [
  NOT_A_SESSION,
  NO_SESSION_DROPPED,
  ORPHAN_ON_SERVER,
  MALFORMED_ACCEPTED,
  NAT_ADDRESSES,
  NAT_NO_SEQUENCE,
  FULLNAT_HANDSHAKE,
  FULLNAT_HANDSHAKE_V6,
  TOA_SPOOF,
  TOA_SKIPS,
  TOA_GSO,
  OPTIONS_SWITCHED_OFF,
  LOCAL_PORTS,
  SYN_RETRANSMIT_AND_RENEW,
  ICMP_UDP_UNREACHABLE,
  ICMP_TCP_BOTH_WAYS,
  ICMP_NO_SESSION_AND_IPSEC,
  ICMP6_BOTH_WAYS,
  EXPIRY_TIMEOUTS,
  EXPIRY_ESTABLISHED,
  EXPIRY_SILENT_SERVER,
  DELETED_LOCAL_ADDRESS,
  DELETED_SERVICE,
  NO_LOCAL_ADDRESS_RESET,
  NO_SERVER_DROPPED,
  NO_LOCAL_ADDRESS_RESET_V6,
  UDP_FULLNAT,
  UDP_FULLNAT_V6,
  PERSISTENT_CLIENT,
];
