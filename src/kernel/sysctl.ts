/**
 * Kernel settings the FULLNAT data path needs, written through `/proc/sys` of the calling
 * process's network namespace:
 *
 * - `net.ipv4.ip_forward=1` and `net.ipv6.conf.all.forwarding=1`: rewritten packets are
 *   routed on to real servers and clients.
 * - `rp_filter=0` on `all`, `default` and every interface: the effective value is
 *   max(all, interface), and strict reverse-path filtering drops packets whose source is a
 *   local address or has no route back (the RS subnet has no route to clients).
 * - `accept_local=1` on `all`, `default` and every interface: a rewritten packet arrives
 *   carrying a source address the box owns (VIP or local address); without this it is a
 *   silently dropped martian.
 * - `send_redirects=0` on `all`, `default` and every interface (the effective value is
 *   all OR interface): a DR packet, or any packet of a one-armed balancer, leaves by the
 *   interface it came in on, and an ICMP redirect would tell the sender's router to bypass
 *   the balancer (the LVS HOWTO's advice for DR). IPv6 has no such switch.
 *
 * The daemon puts back what it changed when it stops for good; `sysctl_carry.ts` keeps the
 * values it found across restarts.
 *
 * @module
 */

/** One setting that was changed. */
export interface SysctlChange {
  /** Dotted name, e.g. `net.ipv4.conf.eth0.rp_filter` (a '.' in an interface name shows as '/'). */
  key: string;
  /** File under the proc root. */
  path: string;
  from: string;
  to: string;
}

/** Where to write, for tests on a fake tree. */
export interface SysctlOptions {
  /** Root of the sysctl tree (default `/proc/sys`). */
  root?: string;
}

function keyOf(rel: string): string {
  return rel.split("/").map((p) => p.replaceAll(".", "/")).join(".");
}

function readValue(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

function interfaces(root: string): string[] {
  const names: string[] = [];
  try {
    for (const e of Deno.readDirSync(`${root}/net/ipv4/conf`)) {
      if (e.isDirectory && e.name !== "all" && e.name !== "default") names.push(e.name);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return names.sort();
}

/** The settings wanted, as [path relative to the root, value]. */
export function wantedSysctls(root = "/proc/sys"): Array<[string, string]> {
  const conf = ["all", "default", ...interfaces(root)];
  const wanted: Array<[string, string]> = [["net/ipv4/ip_forward", "1"]];
  for (const c of conf) wanted.push([`net/ipv4/conf/${c}/rp_filter`, "0"]);
  for (const c of conf) wanted.push([`net/ipv4/conf/${c}/accept_local`, "1"]);
  for (const c of conf) wanted.push([`net/ipv4/conf/${c}/send_redirects`, "0"]);
  wanted.push(["net/ipv6/conf/all/forwarding", "1"]);
  return wanted;
}

/**
 * Applies the data path's settings and returns what it changed (settings that were already
 * right, and IPv6 ones on a kernel without IPv6, are left alone). Throws if a write fails
 * (not root, read-only /proc/sys).
 */
export function applyDataPathSysctls(options: SysctlOptions = {}): SysctlChange[] {
  return applySysctls(wantedSysctls(options.root ?? "/proc/sys"), options);
}

/**
 * Writes every `[path relative to the root, value]` of `wanted` that differs, and returns what
 * it changed (settings absent from this kernel are left alone). Throws if a write fails.
 */
export function applySysctls(
  wanted: ReadonlyArray<readonly [string, string]>,
  options: SysctlOptions = {},
): SysctlChange[] {
  const root = options.root ?? "/proc/sys";
  const changes: SysctlChange[] = [];
  for (const [rel, to] of wanted) {
    const path = `${root}/${rel}`;
    const from = readValue(path);
    if (from === undefined || from === to) continue;
    try {
      Deno.writeTextFileSync(path, `${to}\n`);
    } catch (err) {
      throw new Error(
        `cannot set ${keyOf(rel)}=${to} (${(err as Error).message}); run as root`,
      );
    }
    changes.push({ key: keyOf(rel), path, from, to });
  }
  return changes;
}

/**
 * Puts back the values `changes` replaced, in reverse order; settings whose file is gone
 * (interface deleted) are skipped.
 */
export function restoreSysctls(changes: SysctlChange[]): void {
  for (const c of [...changes].reverse()) {
    if (readValue(c.path) === undefined) continue;
    Deno.writeTextFileSync(c.path, `${c.from}\n`);
  }
}
