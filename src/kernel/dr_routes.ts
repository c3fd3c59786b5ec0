/**
 * The policy routing behind DR (`xmit_dr.ts`): the engine hands a DR packet back to the kernel
 * unchanged, still addressed to the VIP, with its real server's mark (`dr_mark.ts`); here each
 * DR server address gets `ip rule add pref 0 fwmark M lookup M` and a table M holding
 * `default via RS dev IF`, so routing sends the packet to the server's MAC address on the
 * segment it shares with the balancer.
 *
 * The VIP is one of the balancer's own addresses, so the kernel's `0: from all lookup local`
 * rule would deliver the packet locally before any later rule is read. Rules of one preference
 * are read in the order they were added, so after adding ours the local rule is deleted and
 * added again behind them; while it moves, a copy at preference 1 keeps local delivery
 * working, and it goes once the rule is back. Removing ours at stop leaves `ip rule` printing exactly
 * what it printed before (the local rule at 0, alone). A real server that is not on a directly
 * attached segment (its `ip route get` goes `via` a router) cannot be reached by its MAC
 * address and is refused with a message.
 *
 * The functions that turn state into commands are pure (unit-tested); {@linkcode DrRoutes}
 * runs them.
 *
 * @module
 */
import { isIpv6 } from "../vocab/address.ts";

/** A DR real server as the diversion spec lists it. */
export interface DrServer {
  address: string;
  mark: number;
}

/** One of our rules found in `ip rule show`: its mark (which is also its table). */
export interface InstalledDrRule {
  mark: number;
}

/** What `ip [-6] rule show` says about our rules and the local rule. */
export interface RuleState {
  /** Our rules (`0: from all fwmark M lookup M`), in order. */
  ours: InstalledDrRule[];
  /** True when `0: from all lookup local` comes before one of our rules. */
  localFirst: boolean;
  /** True when a `0: from all lookup local` rule exists. */
  localAtZero: boolean;
}

/** IP family of a command: `-4` or `-6`. */
export type FamilyFlag = "-4" | "-6";

/** Reads `ip rule show` output. */
export function parseRules(text: string): RuleState {
  const ours: InstalledDrRule[] = [];
  let localAtZero = false;
  let localFirst = false;
  for (const line of text.split("\n")) {
    const m = /^0:\s+from all (.*?)\s*$/.exec(line);
    if (m === null) continue;
    const rest = m[1];
    if (/^lookup local$/.test(rest)) {
      localAtZero = true;
      continue;
    }
    const f = /^fwmark (0x[0-9a-f]+|\d+) lookup (\d+)$/.exec(rest);
    if (f === null) continue;
    const mark = Number(f[1]) >>> 0;
    if (mark !== Number(f[2])) continue;
    ours.push({ mark });
    if (localAtZero) localFirst = true;
  }
  return { ours, localAtZero, localFirst };
}

/**
 * The interface through which `ip route get ADDRESS` output reaches the address directly, or
 * an error naming the router it would go through instead.
 */
export function attachedInterface(address: string, routeGet: string): string | Error {
  const line = routeGet.split("\n")[0] ?? "";
  const via = /\bvia (\S+)/.exec(line);
  const dev = /\bdev (\S+)/.exec(line);
  if (/^(local|unreachable|prohibit|blackhole)\b/.test(line.trim()) || dev === null) {
    return new Error(
      `DR real server ${address} has no route on an attached segment (${line.trim()})`,
    );
  }
  if (via !== null) {
    return new Error(
      `DR real server ${address} is not on a directly attached segment (reached via ` +
        `${via[1]}): direct routing sends packets to the server's MAC address, so it must ` +
        `share a segment with the balancer; use tunnel, nat or fullnat for it`,
    );
  }
  return dev[1];
}

/** `ip` argument lists (without the `ip` word) that take `state` to `wanted` in one family. */
export function syncCommands(
  family: FamilyFlag,
  state: RuleState,
  wanted: readonly { server: DrServer; dev: string }[],
): string[][] {
  const cmds: string[][] = [];
  const have = new Set(state.ours.map((r) => r.mark));
  const want = new Set(wanted.map((w) => w.server.mark));
  let added = false;
  for (const { server, dev } of wanted) {
    const m = String(server.mark);
    cmds.push([
      family,
      "route",
      "replace",
      "default",
      "via",
      server.address,
      "dev",
      dev,
      "table",
      m,
    ]);
    if (!have.has(server.mark)) {
      cmds.push([family, "rule", "add", "pref", "0", "fwmark", m, "lookup", m]);
      added = true;
    }
  }
  for (const r of state.ours) {
    if (want.has(r.mark)) continue;
    const m = String(r.mark);
    cmds.push([family, "rule", "del", "pref", "0", "fwmark", m, "lookup", m]);
    cmds.push([family, "route", "flush", "table", m]);
  }
  if (state.localAtZero && (added || (state.localFirst && want.size > 0))) {
    cmds.push(...localBehind(family));
  }
  return cmds;
}

/**
 * Moves `0: from all lookup local` behind the rules of preference 0 added before it; a copy at
 * preference 1 serves local delivery while the rule moves (the kernel takes a second identical
 * rule, or one that differs only by a narrower `from`, for the same one).
 */
export function localBehind(family: FamilyFlag): string[][] {
  const local = (verb: string, pref: string) => [
    family,
    "rule",
    verb,
    "pref",
    pref,
    "from",
    "all",
    "lookup",
    "local",
  ];
  return [local("add", "1"), local("del", "0"), local("add", "0"), local("del", "1")];
}

/** `ip` argument lists that remove every rule and table of ours in `state`. */
export function removeCommands(family: FamilyFlag, state: RuleState): string[][] {
  return syncCommands(family, { ...state, localFirst: false }, []);
}

/** How the commands run: `ip` with these arguments (tests replace it). */
export type IpRunner = (
  args: string[],
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Runs `ip` (in network namespace `netns` when given). */
export function ipRunner(netns?: string): IpRunner {
  return async (args) => {
    const full = netns === undefined ? args : ["netns", "exec", netns, "ip", ...args];
    const out = await new Deno.Command("ip", { args: full, stdout: "piped", stderr: "piped" })
      .output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
}

/** The DR rules and routes of one daemon. Operations are serialized. */
export class DrRoutes {
  readonly #ip: IpRunner;
  #queue: Promise<unknown> = Promise.resolve();
  /** Servers refused at the last sync (not on an attached segment), with why. */
  problems: string[] = [];

  constructor(ip: IpRunner = ipRunner()) {
    this.#ip = ip;
  }

  /**
   * Installs a rule and route for every server of `servers` on an attached segment and
   * removes ours for any other; returns the servers refused, with why (also in `problems`).
   */
  sync(servers: readonly DrServer[]): Promise<string[]> {
    return this.#serial(async () => {
      const problems: string[] = [];
      for (const family of ["-4", "-6"] as const) {
        const mine = servers.filter((s) => isIpv6(s.address) === (family === "-6"));
        const wanted: { server: DrServer; dev: string }[] = [];
        for (const server of mine) {
          const r = await this.#ip([family, "route", "get", server.address]);
          const dev = attachedInterface(
            server.address,
            r.code === 0 ? r.stdout : r.stderr || r.stdout,
          );
          if (dev instanceof Error) problems.push(dev.message);
          else wanted.push({ server, dev });
        }
        const state = await this.#rules(family);
        if (state === undefined) {
          if (mine.length > 0) problems.push(`ip ${family} rule cannot be read`);
          continue;
        }
        await this.#run(syncCommands(family, state, wanted));
      }
      this.problems = problems;
      return problems;
    });
  }

  /** Removes every rule and table of ours; what is left is what was there before. */
  remove(): Promise<void> {
    return this.#serial(async () => {
      for (const family of ["-4", "-6"] as const) {
        const state = await this.#rules(family);
        if (state !== undefined) await this.#run(removeCommands(family, state));
      }
      this.problems = [];
    });
  }

  async #rules(family: FamilyFlag): Promise<RuleState | undefined> {
    const r = await this.#ip([family, "rule", "show"]);
    return r.code === 0 ? parseRules(r.stdout) : undefined;
  }

  async #run(cmds: string[][]): Promise<void> {
    for (const args of cmds) {
      const r = await this.#ip(args);
      if (r.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${r.stderr.trim()}`);
    }
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(op, op);
    this.#queue = next.catch(() => {});
    return next;
  }
}
