/**
 * Every scenario of engine rows, by design section, for the benchmark that replays them all.
 *
 * @module
 */
import { FULLNAT_HANDSHAKE } from "./fullnat_transmit.ts";
import type { Scenario } from "./scenario.ts";
import { TOA_SPOOF } from "./toa.ts";

export type { Scenario } from "./scenario.ts";

/** The scenarios in design-section order. */
export const SCENARIOS: readonly Scenario[] = [FULLNAT_HANDSHAKE, TOA_SPOOF];
