/**
 * The forwarding modes the engine knows, by the method code sessions carry and by the name
 * the control plane uses. A new mode is one more `xmit_*.ts` and one more line in each.
 *
 * @module
 */
import type { ForwardMethod } from "./types.ts";
import type { Transmit } from "./xmit.ts";
import { FULLNAT } from "./xmit_fullnat.ts";
import { NAT } from "./xmit_nat.ts";
import { DR } from "./xmit_dr.ts";

/** Modes indexed by method code (`SessionTable.method`). */
export const TRANSMITS: readonly Transmit[] = [FULLNAT, NAT, DR];

/** The mode of a real server's forwarding method. */
export const TRANSMIT_BY_METHOD: Readonly<Record<ForwardMethod, Transmit>> = {
  fullnat: FULLNAT,
  nat: NAT,
  dr: DR,
};

/** The method name of each code (`SessionTable.method`), for listings and takeover. */
export const METHOD_NAMES: readonly ForwardMethod[] = ["fullnat", "nat", "dr"];
