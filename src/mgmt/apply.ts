/**
 * Applies the management plane on the box, in this order:
 *
 * 1. `net.ipv4.ip_nonlocal_bind=1`, `net.ipv6.ip_nonlocal_bind=1` (why: sshd_config.ts);
 * 2. the management port up, with its fallback link-local addresses (`link_local.ts`): put
 *    there always, beside whatever is configured, so a wrong or missing configuration never
 *    leaves the port without an address someone on the link can reach;
 * 3. the sshd drop-in (`sshd_config.ts`), and sshd reloaded when the file changed, and the
 *    admin shell's idle timeout (`/etc/fullnat/idle-timeout`, src/shell/idle.ts);
 * 4. the host firewall (`firewall.ts`);
 * 5. when all went well, the record the next boot replays without Deno (`boot_record.ts`).
 *
 * Each step is attempted even when an earlier one failed; the failures are returned, so the
 * caller (the boot unit, provisioning) reports them without leaving the rest undone.
 *
 * @module
 */

import { dirname } from "node:path";
import { exec } from "../provision/exec.ts";
import { readTextIfExists, underRoot, writeFileAtomic } from "../provision/files.ts";
import {
  bootRecordDir,
  configuredAddresses,
  dropBootRecord,
  writeBootRecord,
} from "./boot_record.ts";
import { installFirewall } from "./firewall.ts";
import { type ManagementPlan, planManagement } from "./plan.ts";
import { SSHD_DROP_IN, sshdDropIn } from "./sshd_config.ts";
import { IDLE_TIMEOUT_FILE } from "../shell/idle.ts";
import type { ManagementInput } from "./types.ts";

/** Where and how to apply. */
export interface MgmtTarget {
  /** The box's root (`/`); the sshd drop-in is written under it. */
  root: string;
  /** Network namespace of the `ip`, `sysctl` and iptables commands (tests). */
  netns?: string;
  /** Reload sshd (`systemctl try-reload-or-restart ssh.service`) when the drop-in changed. */
  reloadSshd: boolean;
  /** Leave the firewall alone (for a box whose operator runs another one). */
  noFirewall?: boolean;
  /**
   * The management state directory: when set, a complete apply is recorded there for the boot
   * script to replay without Deno (boot_record.ts).
   */
  recordDir?: string;
}

/** What an apply did. */
export interface MgmtResult {
  plan: ManagementPlan;
  /** One line per step done. */
  done: string[];
  /** Input problems and failed steps; empty when all is well. */
  problems: string[];
}

function inNetns(target: MgmtTarget, cmd: string, args: string[]): [string, string[]] {
  return target.netns === undefined
    ? [cmd, args]
    : ["ip", ["netns", "exec", target.netns, cmd, ...args]];
}

async function must(target: MgmtTarget, cmd: string, args: string[]): Promise<string> {
  const [c, a] = inNetns(target, cmd, args);
  const out = await exec(c, a);
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${out.stderr.trim()}`);
  return new TextDecoder().decode(out.stdout);
}

/** The MAC address of `iface`, or undefined when the box has no such interface. */
export async function readMac(target: MgmtTarget, iface: string): Promise<string | undefined> {
  const [c, a] = inNetns(target, "ip", ["-j", "link", "show", "dev", iface]);
  const out = await exec(c, a);
  if (out.code !== 0) return undefined;
  const links = JSON.parse(new TextDecoder().decode(out.stdout)) as Array<{ address?: string }>;
  return links[0]?.address;
}

/** Applies `input`; the MAC is read from the management port when the input has none. */
export async function applyManagement(
  target: MgmtTarget,
  input: ManagementInput,
): Promise<MgmtResult> {
  const mac = input.mac ?? await readMac(target, input.management);
  const { plan, problems } = planManagement({ ...input, mac });
  const done: string[] = [];
  const inputProblems = problems.length;
  const step = async (what: string, fn: () => Promise<string>) => {
    try {
      done.push(await fn());
    } catch (e) {
      problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  if (mac === undefined) {
    problems.push(`this box has no interface ${plan.management}: no fallback address`);
  }
  await step("sysctl", async () => {
    await must(target, "sysctl", ["-qw", "net.ipv4.ip_nonlocal_bind=1"]);
    // IPv6 may be disabled on the kernel command line; then there is nothing to bind anyway.
    await must(target, "sysctl", ["-qw", "net.ipv6.ip_nonlocal_bind=1"]).catch(() => {});
    return "non-local bind allowed (sshd binds addresses before they are up)";
  });
  if (plan.fallback.length > 0) {
    await step("fallback address", async () => {
      await must(target, "ip", ["link", "set", "dev", plan.management, "up"]);
      for (const f of plan.fallback) {
        const v6 = f.includes(":");
        await must(target, "ip", [
          ...(v6 ? ["-6"] : []),
          "addr",
          "replace",
          f,
          "dev",
          plan.management,
          ...(v6 ? ["nodad"] : ["scope", "link"]),
        ]);
      }
      return `${plan.management} up with fallback ${plan.fallback.join(", ")}`;
    });
  }
  await step("sshd", async () => {
    const path = underRoot(target.root, SSHD_DROP_IN);
    const text = sshdDropIn(plan);
    const listen = plan.listen.length === 0
      ? "every address"
      : plan.listen.map((l) => l.address).join(", ");
    if (await readTextIfExists(path) === text) return `sshd already listens on ${listen}`;
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await writeFileAtomic(path, text, { mode: 0o644 });
    if (target.reloadSshd) {
      const out = await exec("systemctl", ["try-reload-or-restart", "ssh.service"]);
      if (out.code !== 0) throw new Error(`sshd reload failed: ${out.stderr.trim()}`);
    }
    return `sshd listens on ${listen}${target.reloadSshd ? " (reloaded)" : ""}`;
  });
  await step("idle timeout", async () => {
    const path = underRoot(target.root, IDLE_TIMEOUT_FILE);
    await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await writeFileAtomic(path, `${plan.idleTimeoutS}\n`, { mode: 0o644 });
    return plan.idleTimeoutS === 0
      ? "admin sessions never time out"
      : `admin sessions end after ${plan.idleTimeoutS} s idle`;
  });
  if (!target.noFirewall) {
    await step("firewall", async () => {
      const rules = await installFirewall({ netns: target.netns }, plan);
      return `host firewall installed (${rules.ipv4.length} IPv4, ${rules.ipv6.length} IPv6 rules)`;
    });
  }
  // What the next boot replays is what was just applied; after a failed step there is nothing
  // reliable to replay, so the record goes and the next boot takes the slow path, which tries
  // every step again and reports.
  if (target.recordDir !== undefined) {
    const recordDir = target.recordDir;
    if (mac !== undefined && !target.noFirewall && problems.length === inputProblems) {
      await step("boot record", async () => {
        await writeBootRecord(recordDir, plan, mac, configuredAddresses(input, plan));
        return `recorded for the next boot in ${bootRecordDir(recordDir)}`;
      });
    } else {
      await step("boot record", async () => {
        await dropBootRecord(recordDir);
        return "no boot record (the next boot applies anew)";
      });
    }
  }
  return { plan, done, problems };
}
