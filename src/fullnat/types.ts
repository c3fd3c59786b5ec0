/**
 * The words the engine and its drivers share: transport protocols, forwarding methods and
 * scheduler names, and (re-exported, so importers need one path) the control plane's
 * vocabulary, each in the file of its meaning:
 *
 * - `service_spec.ts`: service keys and options, real-server specs, endpoints;
 * - `views.ts`: services, real servers, local addresses and sessions as listed, with stats;
 * - `timeouts.ts`: session timeouts and their defaults;
 * - `tunables.ts`: the engine-wide switches IPVS keeps as sysctls;
 * - `diversion_spec.ts`: what the data path diverts into the queue;
 * - `control_target.ts`: the control operations and their error.
 *
 * The queue's verdict and packet sink are the queue's (`src/nfqueue/handler.ts`).
 *
 * @module
 */

import type { ForwardMethod, Protocol, SchedulerName } from "../vocab/mod.ts";
// The vocabulary types are defined by src/vocab's tables; re-exported so the contract reads whole.
export type { ForwardMethod, Protocol, SchedulerName };

export * from "./service_spec.ts";
export * from "./views.ts";
export * from "./timeouts.ts";
export * from "./tunables.ts";
export * from "./diversion_spec.ts";
export * from "./control_target.ts";
