/**
 * {@linkcode Diversion}: installs, updates and removes the iptables rules that send FULLNAT
 * traffic into the queue (rules: {@link ./diversion_rules.ts}).
 *
 * @module
 */

import type { DiversionSpec } from "../fullnat/types.ts";
import {
  buildOffloadRules,
  buildRules,
  checkPrefix,
  type Family,
  familyOf,
  type InstalledState,
  installScript,
  OFFLOAD_HOOKS,
  parseInstalled,
  parseTable,
  removeScript,
  tableInstallScript,
  tableRemoveScript,
  type TableState,
} from "./diversion_rules.ts";

/** How to divert. */
export interface DiversionOptions {
  /** The queue the daemon reads (`--queue-num`); with several workers, worker 0's. */
  queueNum: number;
  /**
   * Workers reading queues `queueNum`..`queueNum + workers - 1` (default 1). With more than
   * one, traffic is steered so that both directions of a session reach the same worker (see
   * {@link ./diversion_rules.ts}).
   */
  workers?: number;
  /** The local port range split into per-worker slices (default 1025-65535). */
  localPorts?: readonly [number, number];
  /** Chain name prefix (default `FULLNAT`); distinct prefixes let daemons run side by side. */
  prefix?: string;
  /**
   * Add `--queue-bypass`: while no process is bound to the queue (daemon stopped or
   * crashed), diverted packets continue unprocessed instead of being dropped. Default false.
   *
   * Trade-off: fail-closed (false) drops client and real-server packets while the daemon is
   * down, so TCP retransmits and sessions restored from the persisted state survive a quick
   * restart. Fail-open (true) hands the packets to the box's own stack unrewritten: clients
   * reach the VIP on the box itself (typically a RST, so they fail fast) and replies from
   * real servers to local addresses are answered with RSTs, which kills their sessions.
   * Traffic that is not FULLNAT (a NAT-mode real server's replies) would keep flowing.
   */
  failOpen?: boolean;
  /** Run the commands in this network namespace (`ip netns exec NAME`). */
  netns?: string;
}

/** Empty spec: only the chains and the hook. */
const EMPTY: DiversionSpec = { services: [], localAddresses: [], natRealServers: [] };
/** The spec of adopted rules: equal to no spec a daemon computes. */
const ADOPTED: DiversionSpec = { services: [], localAddresses: ["(adopted)"], natRealServers: [] };

const TOOLS: Record<Family, { list: string; restore: string }> = {
  ipv4: { list: "iptables", restore: "iptables-restore" },
  ipv6: { list: "ip6tables", restore: "ip6tables-restore" },
};

/** The diversion of one daemon. Operations are serialized. */
export class Diversion {
  /** Chain prefix in use. */
  readonly prefix: string;
  readonly #options: Required<Omit<DiversionOptions, "netns" | "localPorts">> & {
    netns?: string;
    localPorts?: readonly [number, number];
  };
  #spec: DiversionSpec = EMPTY;
  #queue: Promise<unknown> = Promise.resolve();
  /**
   * The fast path's mangle and nat rules may be installed (this process installed them, or a
   * previous one left them): updates and removal then look at those tables too. Without
   * `--offload` ever on, the daemon runs exactly the commands it always ran.
   */
  #offloadTables = false;

  constructor(options: DiversionOptions) {
    this.prefix = options.prefix ?? "FULLNAT";
    checkPrefix(this.prefix);
    this.#options = {
      queueNum: options.queueNum,
      prefix: this.prefix,
      failOpen: options.failOpen ?? false,
      netns: options.netns,
      workers: options.workers ?? 1,
      localPorts: options.localPorts,
    };
    // Validate the queue numbers, worker count and port slices early.
    buildRules(EMPTY, this.#options);
  }

  /** The spec last installed. */
  get spec(): DiversionSpec {
    return this.#spec;
  }

  /** The rules `spec` turns into, per family (for display and tests). */
  rules(spec: DiversionSpec): Record<Family, string[]> {
    return buildRules(spec, this.#options);
  }

  /**
   * Creates (or, after a crash, takes over and resets) our chains with the rules for
   * `spec` and hooks them into raw PREROUTING. Idempotent.
   */
  install(spec: DiversionSpec = EMPTY): Promise<void> {
    return this.#serial(() => this.#apply(spec));
  }

  /**
   * At start: keeps the rules a previous daemon left in place (it was restarted or died), so
   * its sessions' packets wait in the queue instead of reaching the box's own stack while the
   * configuration is restored; installs the empty chains when there are none. The next
   * {@linkcode update} replaces the adopted rules with the restored configuration's. Returns
   * true when rules were adopted.
   */
  adopt(): Promise<boolean> {
    return this.#serial(async () => {
      const state = await this.#state("ipv4");
      const mangle = await this.#tableState("ipv4", "mangle");
      if (typeof mangle !== "string" && mangle.chains.length > 0) this.#offloadTables = true;
      if (typeof state !== "string" && state.hooks > 0 && state.rules.length > 0) {
        // Unknown until the first update, which must therefore always apply.
        this.#spec = ADOPTED;
        return true;
      }
      await this.#apply(EMPTY);
      return false;
    });
  }

  /** Replaces the diverted targets atomically (one iptables-restore transaction per family). */
  update(spec: DiversionSpec): Promise<void> {
    return this.#serial(() => this.#apply(spec));
  }

  /** Unhooks and deletes our chains in both families. Safe to call twice. */
  remove(): Promise<void> {
    return this.#serial(async () => {
      for (const family of ["ipv4", "ipv6"] as const) {
        const state = await this.#state(family);
        if (typeof state === "string") {
          // IPv6 may be absent from this kernel; then there is nothing of ours to remove.
          if (family === "ipv6") continue;
          throw new Error(state);
        }
        const script = removeScript(this.prefix, state);
        if (script !== undefined) await this.#restore(family, script);
        if (this.#offloadTables) await this.#offload(family, EMPTY);
      }
      this.#offloadTables = false;
      this.#spec = EMPTY;
    });
  }

  /** What of ours is installed in `family`, undefined if that family is unavailable. */
  async installed(family: Family): Promise<InstalledState | undefined> {
    const state = await this.#state(family);
    return typeof state === "string" ? undefined : state;
  }

  async #apply(spec: DiversionSpec): Promise<void> {
    const rules = buildRules(spec, this.#options);
    for (const family of ["ipv4", "ipv6"] as const) {
      const state = await this.#state(family);
      if (typeof state === "string") {
        // No ip6tables (or no IPv6 in the kernel): fine unless IPv6 targets were asked for.
        if (family === "ipv6" && !hasIpv6Targets(spec)) continue;
        throw new Error(`cannot divert ${family}: ${state}`);
      }
      await this.#restore(
        family,
        installScript(this.prefix, rules[family], state.hooks > 0, state.chains),
      );
      if (spec.offload === true) this.#offloadTables = true;
      if (this.#offloadTables) await this.#offload(family, spec);
    }
    this.#spec = structuredClone(spec);
  }

  /**
   * Brings `family`'s mangle and nat tables to the fast path's rules for `spec`: installed
   * when it is on, removed when it is not. An unavailable table (no IPv6 NAT) is skipped
   * when nothing of ours is wanted there.
   */
  async #offload(family: Family, spec: DiversionSpec): Promise<void> {
    const rules = buildOffloadRules(spec, this.#options)[family];
    for (const table of ["mangle", "nat"] as const) {
      const state = await this.#tableState(family, table);
      const wanted = rules[table];
      if (typeof state === "string") {
        if (wanted.length === 0 || (family === "ipv6" && !hasIpv6Targets(spec))) continue;
        throw new Error(`cannot divert ${family}: ${state}`);
      }
      const script = wanted.length > 0
        ? tableInstallScript(table, this.prefix, wanted, state)
        : tableRemoveScript(table, this.prefix, state);
      if (script !== undefined) await this.#restore(family, script);
    }
  }

  /** Our part of `family`'s `table` (mangle or nat), or why it cannot be read. */
  async #tableState(
    family: Family,
    table: keyof typeof OFFLOAD_HOOKS,
  ): Promise<TableState | string> {
    const tool = TOOLS[family].list;
    const r = await this.#run(tool, ["-w", "-t", table, "-S"]);
    if (r === undefined) return `${tool} not found`;
    if (r.code !== 0) return `${tool} -t ${table} -S failed (exit ${r.code}): ${r.stderr.trim()}`;
    return parseTable(r.stdout, this.prefix);
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Our part of `family`'s raw table, or why it cannot be read. */
  async #state(family: Family): Promise<InstalledState | string> {
    const tool = TOOLS[family].list;
    const r = await this.#run(tool, ["-w", "-t", "raw", "-S"]);
    if (r === undefined) return `${tool} not found`;
    if (r.code !== 0) return `${tool} -t raw -S failed (exit ${r.code}): ${r.stderr.trim()}`;
    return parseInstalled(r.stdout, this.prefix);
  }

  async #restore(family: Family, script: string): Promise<void> {
    const tool = TOOLS[family].restore;
    const r = await this.#run(tool, ["-w", "--noflush"], script);
    if (r === undefined) throw new Error(`${tool} not found; install the iptables package`);
    if (r.code !== 0) {
      throw new Error(`${tool} failed (exit ${r.code}): ${r.stderr.trim()}\nscript:\n${script}`);
    }
  }

  async #run(
    cmd: string,
    args: string[],
    stdin?: string,
  ): Promise<{ code: number; stdout: string; stderr: string } | undefined> {
    const ns = this.#options.netns;
    const io = {
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    } as const;
    const command = ns === undefined
      ? new Deno.Command(cmd, { args, ...io })
      : new Deno.Command("ip", { args: ["netns", "exec", ns, cmd, ...args], ...io });
    let child: Deno.ChildProcess;
    try {
      child = command.spawn();
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw err;
    }
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
    }
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }
}

function hasIpv6Targets(spec: DiversionSpec): boolean {
  const addresses = [
    ...spec.services.map((s) => s.address),
    ...spec.localAddresses,
    ...spec.natRealServers.map((r) => r.address),
  ];
  return addresses.some((a) => familyOf(a) === "ipv6");
}
