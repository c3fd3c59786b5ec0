/**
 * Where a packet worker gets its {@linkcode OffloadPort} to the kernel: the one place the
 * offload step (`offload_step.ts`) meets the ctnetlink module (`src/kernel/conntrack/`).
 *
 * Until that module is merged and adapted here, opening the port fails with a message that
 * says so: the worker logs it once and keeps every session in the engine (with the fast
 * path's rules, a session's packets then reach the queue as INVALID, so nothing breaks; only
 * nothing is offloaded).
 *
 * @module
 */
import type { OffloadPort } from "./offload_port.ts";

/** Opens worker `worker`'s port to the kernel's conntrack (its entries carry its mark bits). */
export function openKernelOffloadPort(worker: number): OffloadPort {
  throw new Error(
    `worker ${worker}: the kernel fast path needs the ctnetlink module (src/kernel/conntrack), ` +
      "which this build does not have: sessions stay in the engine",
  );
}
