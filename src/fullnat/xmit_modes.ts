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
import { TUNNEL } from "./xmit_tunnel.ts";

/** Every mode, in no particular order: {@linkcode TRANSMITS} indexes them by code. */
const MODES: readonly Transmit[] = [FULLNAT, NAT, DR, TUNNEL];

/** Modes indexed by method code (`SessionTable.method`); a code no mode has is a hole. */
export const TRANSMITS: readonly Transmit[] = (() => {
  const byCode: Transmit[] = [];
  for (const m of MODES) byCode[m.code] = m;
  return byCode;
})();

/** The mode of a real server's forwarding method. */
export const TRANSMIT_BY_METHOD: Readonly<Record<ForwardMethod, Transmit>> = {
  fullnat: FULLNAT,
  nat: NAT,
  dr: DR,
  tunnel: TUNNEL,
};

/** The method name of each code (`SessionTable.method`), for listings and takeover. */
export const METHOD_NAMES: readonly ForwardMethod[] = (() => {
  const names: ForwardMethod[] = [];
  for (const [name, m] of Object.entries(TRANSMIT_BY_METHOD)) names[m.code] = name as ForwardMethod;
  return names;
})();

/** The method name of a session's method code (`fullnat` for a code no mode has). */
export function methodOfCode(code: number): ForwardMethod {
  return METHOD_NAMES[code] ?? "fullnat";
}
