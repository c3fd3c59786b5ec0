/**
 * The daemon's host network: holds the document's `network` section, applies it to the box
 * with iproute2 (src/provision/apply_network.ts: one `ip -batch` of `replace` lines, the
 * management port first, withdrawing what the previous section had and the new one drops),
 * binds the services' VIPs and local addresses (binding.ts) and writes the boot-time files
 * (networkd.ts, files.ts). It is the document's {@linkcode NetworkOps}.
 *
 * Two switches keep a daemon from touching a host that is not an appliance: without `manage`
 * (`--manage-host-network`) the section is kept, saved and exported but nothing is applied to
 * the interfaces and no address is refused; without `filesDir` (`--host-network-dir`) no file
 * is written. When a DNS or NTP drop-in changed, the service reading it is restarted
 * (drop_in_services.ts), only for a managed host whose files are systemd's own.
 *
 * @module
 */
import { ControlError } from "../fullnat/types.ts";
import {
  applyNetwork,
  checkNetworkTarget,
  hostAddressLine,
  runBatch,
} from "../provision/apply_network.ts";
import { formatPath } from "../provision/problems.ts";
import type { HostAddress, NetworkConfig } from "../provision/types.ts";
import { managementInterface } from "../provision/types.ts";
import {
  type DocumentLike,
  emptyNetwork,
  managementSlice,
  type NetworkOps,
} from "../persist/network_section.ts";
import {
  type Binding,
  canOwn,
  ownershipProblems,
  type ServiceAddresses,
  unownedMessage,
  wantedBindings,
} from "./binding.ts";
import {
  type DropInService,
  type ServiceRunner,
  serviceRunnerFor,
  servicesToTell,
} from "./drop_in_services.ts";
import { syncFiles } from "./files.ts";
import { readFloating } from "./floating.ts";
import { networkdFiles } from "./networkd.ts";

/** Settings of the host network. */
export interface HostNetworkOptions {
  /** Apply to the interfaces and bind addresses (`--manage-host-network`). */
  manage: boolean;
  /** networkd's directory for the boot-time files (`--host-network-dir`); null: none. */
  filesDir: string | null;
  /** keepalived's configuration, whose floating addresses are never bound. */
  keepalivedConf: string;
  log(message: string): void;
  /**
   * Restarts the service reading a changed DNS or NTP drop-in; null restarts none. Left out:
   * systemctl for a managed host whose files go to `/etc/systemd/network`, none otherwise
   * ({@linkcode serviceRunnerFor}).
   */
  restartService?: ServiceRunner | null;
  /**
   * Told after the section was applied or restored (with the section now in force): for what
   * follows the management addresses (sshd's listen addresses, the host firewall).
   */
  onApplied?: (net: NetworkConfig) => Promise<void> | void;
}

/** Counters of what the host network did. */
export interface HostNetworkCounters {
  applied: number;
  applyFailures: number;
  bound: number;
  unbound: number;
  bindFailures: number;
  filesWritten: number;
  fileFailures: number;
  /** systemd-resolved / systemd-timesyncd restarted after their drop-in changed. */
  servicesRestarted: number;
  serviceFailures: number;
}

/** What `network status` shows. */
export interface HostNetworkStatus {
  managed: boolean;
  filesDir: string | null;
  management: string;
  bound: Binding[];
  /** The last failure to apply or bind, if the last attempt failed. */
  problem?: string;
  counters: HostNetworkCounters;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The section without its explicit VIPs and local addresses (those are bindings). */
const interfacesOnly = (net: NetworkConfig): NetworkConfig => ({
  ...net,
  vips: [],
  localAddresses: [],
});

/** The daemon's host network; see the module doc. */
export class HostNetwork implements NetworkOps {
  #net: NetworkConfig = emptyNetwork();
  #services: readonly ServiceAddresses[] = [];
  #bound = new Map<string, Binding>();
  #problem: string | undefined;
  readonly #opts: HostNetworkOptions;
  readonly #restarter: ServiceRunner | null;
  readonly counters: HostNetworkCounters = {
    applied: 0,
    applyFailures: 0,
    bound: 0,
    unbound: 0,
    bindFailures: 0,
    filesWritten: 0,
    fileFailures: 0,
    servicesRestarted: 0,
    serviceFailures: 0,
  };

  constructor(opts: HostNetworkOptions) {
    this.#opts = opts;
    this.#restarter = opts.restartService !== undefined
      ? opts.restartService
      : serviceRunnerFor(opts.manage, opts.filesDir);
  }

  current(): NetworkConfig {
    return structuredClone(this.#net);
  }

  status(): HostNetworkStatus {
    return {
      managed: this.#opts.manage,
      filesDir: this.#opts.filesDir,
      management: managementInterface(this.#net),
      bound: [...this.#bound.values()],
      ...(this.#problem !== undefined && { problem: this.#problem }),
      counters: { ...this.counters },
    };
  }

  #floating(): Promise<Set<string>> {
    return readFloating(this.#opts.keepalivedConf).catch(() => new Set<string>());
  }

  async check(next: Pick<DocumentLike, "network" | "services">, before: DocumentLike) {
    if (!this.#opts.manage) return [];
    const net = next.network ?? emptyNetwork();
    const problems = (await checkNetworkTarget({}, net)).map((p) =>
      `${formatPath(p.path)}: ${p.message}`
    );
    problems.push(
      ...ownershipProblems(
        net,
        next.services,
        before.network ?? emptyNetwork(),
        before.services,
        await this.#floating(),
      ),
    );
    return problems;
  }

  async apply(next: NetworkConfig): Promise<void> {
    const previous = this.#net;
    if (this.#opts.manage) {
      try {
        await applyNetwork({}, interfacesOnly(next), interfacesOnly(previous));
      } catch (e) {
        this.counters.applyFailures++;
        // Put the previous section back whole: what the failed batch did is undone.
        await applyNetwork({}, interfacesOnly(previous), interfacesOnly(next)).catch((u) =>
          this.#opts.log(`network: undoing a failed change was incomplete: ${message(u)}`)
        );
        throw new ControlError("invalid-argument", message(e));
      }
      this.counters.applied++;
    }
    this.#net = structuredClone(next);
    this.#problem = undefined;
    await this.#writeFiles();
    await this.#told();
  }

  async #told(): Promise<void> {
    try {
      await this.#opts.onApplied?.(this.current());
    } catch (e) {
      this.#opts.log(`network: a follower of the network configuration failed: ${message(e)}`);
    }
  }

  async restore(net: NetworkConfig): Promise<void> {
    this.#net = structuredClone(net);
    if (this.#opts.manage && (net.interfaces.length > 0 || net.routes.length > 0)) {
      const mgmt = managementInterface(net);
      const slice = managementSlice(net);
      if (slice.interfaces.length > 0) {
        try {
          await applyNetwork({}, slice);
          this.#opts.log(`network: management port ${mgmt} configured`);
        } catch (e) {
          this.counters.applyFailures++;
          this.#problem = `management port ${mgmt}: ${message(e)}`;
          this.#opts.log(
            `network: the management port ${mgmt} could not be configured: ${message(e)}`,
          );
        }
      }
      try {
        await applyNetwork({}, interfacesOnly(net));
        this.counters.applied++;
        this.#opts.log(
          `network: ${net.interfaces.length} interface(s), ${net.routes.length} route(s) configured`,
        );
      } catch (e) {
        this.counters.applyFailures++;
        this.#problem = message(e);
        this.#opts.log(
          `network: the stored network could not be applied whole (the management port stays ` +
            `as configured): ${message(e)}`,
        );
      }
    }
    await this.#writeFiles();
    await this.#told();
  }

  async admit(address: string, what: string): Promise<void> {
    if (!this.#opts.manage) return;
    if (canOwn(this.#net, address, await this.#floating())) return;
    throw new ControlError("invalid-argument", unownedMessage(this.#net, address, what));
  }

  /**
   * Follows the services after a change: binds the addresses they need, removes those no
   * longer needed, rewrites the files. `full` binds every wanted address again (at start, or
   * after the network changed), not only the new ones.
   */
  async follow(services: readonly ServiceAddresses[], full: boolean): Promise<void> {
    this.#services = services;
    if (this.#opts.manage) {
      const wanted = wantedBindings(this.#net, services, await this.#floating());
      const want = new Map(wanted.map((b) => [b.address, b]));
      const lines: string[] = [];
      const key = (b: HostAddress) => `${b.address} ${b.interface}`;
      for (const [addr, b] of this.#bound) {
        const w = want.get(addr);
        if (w === undefined || key(w) !== key(b)) {
          lines.push(hostAddressLine("del", b));
          this.counters.unbound++;
        }
      }
      for (const b of wanted) {
        const had = this.#bound.get(b.address);
        if (full || had === undefined || key(had) !== key(b)) {
          lines.push(hostAddressLine("replace", b));
          if (had === undefined || key(had) !== key(b)) this.counters.bound++;
        }
      }
      this.#bound = want;
      const failure = await runBatch({}, lines, true).catch((e) => message(e));
      if (failure !== "") {
        this.counters.bindFailures++;
        this.#problem = `binding addresses: ${failure}`;
        this.#opts.log(`network: binding VIPs and local addresses: ${failure}`);
      }
    }
    await this.#writeFiles();
  }

  async #writeFiles(): Promise<void> {
    const dir = this.#opts.filesDir;
    if (dir === null) return;
    const bound = this.#opts.manage
      ? [...this.#bound.values()]
      : wantedBindings(this.#net, this.#services, await this.#floating());
    let touched: string[];
    try {
      touched = await syncFiles(dir, networkdFiles(this.#net, bound));
      this.counters.filesWritten += touched.length;
    } catch (e) {
      this.counters.fileFailures++;
      this.#opts.log(`network: writing the boot-time files under ${dir} failed: ${message(e)}`);
      return;
    }
    for (const s of servicesToTell(dir, touched)) await this.#restart(s);
  }

  /** Restarts the reader of a changed drop-in; a failure is logged, counted and shown. */
  async #restart(s: DropInService): Promise<void> {
    if (this.#restarter === null) return;
    try {
      await this.#restarter(s.verb, s.unit);
      this.counters.servicesRestarted++;
    } catch (e) {
      this.counters.serviceFailures++;
      this.#problem = `${s.unit} did not take the new ${s.file}: ${message(e)}`;
      this.#opts.log(`network: ${this.#problem}`);
    }
  }
}
