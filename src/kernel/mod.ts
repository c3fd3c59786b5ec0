/**
 * Kernel plumbing of the data path: the iptables rules that divert service traffic into the
 * queues (and steer each session to its worker), the sysctls the data path needs, and the raw
 * sockets that emit packets the balancer makes itself (resets on expiry).
 *
 * A daemon's start-up and shutdown, in order (needs root, `-A`):
 *
 * @example
 * ```ts
 * import { applyDataPathSysctls, Diversion, restoreSysctls } from "./mod.ts";
 * import { NfQueue } from "../nfqueue/mod.ts";
 * import { Engine } from "../fullnat/engine.ts";
 * import { EngineControl } from "../fullnat/control.ts";
 *
 * export async function daemon(): Promise<void> {
 *   const engine = new Engine({ clock: () => performance.now() });
 *   const control = new EngineControl(engine);
 *   const sysctlChanges = applyDataPathSysctls();
 *   const queue = NfQueue.open({ queueNum: 0, maxLen: 8192 }); // bind before diverting
 *   const diversion = new Diversion({ queueNum: 0 });
 *   await diversion.install(control.diversion());
 *   const loop = queue.run(engine); // the engine is the queue's PacketHandler
 *   // after every configuration change:
 *   await diversion.update(control.diversion());
 *   // shutdown: stop diverting, then let the loop finish and release the queue
 *   await diversion.remove();
 *   queue.stop();
 *   await loop;
 *   queue.close();
 *   restoreSysctls(sysctlChanges);
 * }
 * ```
 *
 * @module
 */

export { Diversion, type DiversionOptions } from "./diversion.ts";
export { type Family, type InstalledState } from "./diversion_rules.ts";
export {
  applyDataPathSysctls,
  restoreSysctls,
  type SysctlChange,
  type SysctlOptions,
  wantedSysctls,
} from "./sysctl.ts";
export { RawSender } from "./raw_sender.ts";
