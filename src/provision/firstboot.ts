/**
 * First boot: find the seed volume, read the provisioning file, validate it, and apply each
 * valid section (host name, admin SSH keys, network, load-balancer configuration, keepalived's
 * VRRP for an HA pair) on its own.
 * An invalid section is reported with every problem and not touched at all; the others still
 * apply, so the box comes up reachable. The same seed is processed once; a changed seed again.
 *
 * @module
 */

import { ControlClient } from "../ctl/client.ts";
import type { ConfigDocument } from "../persist/document.ts";
import { applyManagement } from "../mgmt/apply.ts";
import { MGMT_APPLY_FLAG } from "../mgmt/boot_record.ts";
import { managementInputOf } from "../mgmt/from_provisioning.ts";
import { defaultMgmtStateDir, withMgmtLock, writeInput } from "../mgmt/input_store.ts";
import { applyHa } from "./apply_ha.ts";
import { applyAdminKeys, applyHostname, checkAdminTarget, type HostTarget } from "./apply_host.ts";
import { checkNetworkTarget, networkBatch, type NetworkTarget, runBatch } from "./apply_network.ts";
import { findSeed } from "./find_seed.ts";
import { checkLoadBalancer, loadBalancerProblems } from "./load_balancer.ts";
import {
  applySeedLoadBalancer,
  applySeedNetwork,
  baseLoadBalancer,
  baseNetwork,
  loadBalancerBase,
  managementPart,
} from "./seed_network.ts";
import { parseSource } from "./source.ts";
import { formatProblem, type Problem } from "./problems.ts";
import { Reporter } from "./report.ts";
import { readSeed, sha256Hex } from "./seed.ts";
import {
  defaultStateDir,
  type ProvisionState,
  readState,
  type SectionOutcome,
  writeAppliedSeed,
  writeState,
} from "./state.ts";
import { managementInterface, SECTION_ORDER, type SectionName } from "./types.ts";
import { formatPrefix } from "../vocab/mod.ts";
import { checkProvisioning, inFileOrder } from "./validate.ts";

/** Settings of a first-boot run; tests point every one of them somewhere harmless. */
export interface FirstbootOptions {
  /** The seed device or image; found by its `cidata` label when absent. */
  seed?: string;
  /** How long to look for a labelled seed that may still be being probed (ms). */
  seedWaitMs: number;
  /** The box's root directory (`/`). */
  root: string;
  /** Network namespace for `ip` (tests); the current one when absent. */
  netns?: string;
  /** The daemon's control socket. */
  socket: string;
  /** How long to wait for the daemon's control socket (ms). */
  daemonWaitMs: number;
  /** Where the record of applied seeds lives; default `<root>/var/lib/fullnat/provision`. */
  stateDir?: string;
  /** Console device for the report (`/dev/console`); undefined for the log only. */
  console?: string;
  /** Apply even when this seed was applied before. */
  force: boolean;
  /**
   * Then apply the management plane (src/mgmt: sshd's listen addresses, the host firewall, the
   * fallback address) for what the seed left on the box. On by default only on the box itself
   * (`root` is `/`); tests turn it on with a namespace.
   */
  mgmt?: boolean;
}

/** What a run did, for the exit code and for tests. */
export interface FirstbootResult {
  status: "no-seed" | "unchanged" | "processed" | "unreadable";
  sections: Record<SectionName, SectionOutcome>;
  problems: Problem[];
  /** Messages of sections that were valid but failed to apply. */
  failures: string[];
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

function allSections(outcome: SectionOutcome): Record<SectionName, SectionOutcome> {
  return Object.fromEntries(SECTION_ORDER.map((s) => [s, outcome])) as Record<
    SectionName,
    SectionOutcome
  >;
}

/** Connects to the daemon, retrying until `waitMs` has passed (it may still be starting). */
async function connectWhenUp(socket: string, waitMs: number): Promise<ControlClient> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await ControlClient.connect(socket);
    } catch (e) {
      if (Date.now() >= deadline) {
        throw new Error(`${message(e)} (waited ${Math.round(waitMs / 1000)} s for it)`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Runs first boot and reports on the console and in the log. */
export async function firstboot(opts: FirstbootOptions): Promise<FirstbootResult> {
  const report = new Reporter(opts.console);
  const result: FirstbootResult = {
    status: "no-seed",
    sections: allSections("absent"),
    problems: [],
    failures: [],
  };
  const device = opts.seed ?? await findSeed({ waitMs: opts.seedWaitMs });
  if (device === undefined) {
    await report.say("no seed volume labelled cidata; nothing to provision");
    return result;
  }
  let seed;
  try {
    seed = await readSeed(device);
  } catch (e) {
    result.status = "unreadable";
    result.failures.push(message(e));
    await report.say(`cannot read the seed: ${message(e)}`, "nothing was changed");
    return result;
  }
  const sha256 = await sha256Hex(seed.content);
  const stateDir = opts.stateDir ?? defaultStateDir(opts.root);
  const previous = await readState(stateDir);
  // A seed applied by a release before the daemon kept the network: its network section was
  // applied once and stored nowhere. It goes into the daemon's configuration now, alone (the
  // other sections were applied and stay as the shell left them).
  const migrating = !opts.force && previous?.sha256 === sha256 && previous.complete &&
    previous.applied === undefined && previous.sections?.network === "applied";
  if (!opts.force && previous?.sha256 === sha256 && previous.complete && !migrating) {
    result.status = "unchanged";
    result.sections = previous.sections;
    if (previous.applied !== undefined) {
      await writeAppliedSeed(stateDir, sha256).catch(async (e) =>
        await report.say(`cannot record the applied seed in ${stateDir}: ${message(e)}`)
      );
    }
    await report.say(
      `seed ${device} (${seed.name}, sha256 ${sha256.slice(0, 12)}) was already applied ` +
        `at ${previous.processedAt}; nothing to do`,
    );
    return result;
  }
  result.status = "processed";
  // One connection to the daemon for the sections that go through it, made when first needed.
  let client: ControlClient | undefined;
  const daemon = {
    client: async () => client ??= await connectWhenUp(opts.socket, opts.daemonWaitMs),
  };
  const appliedParts: NonNullable<ProvisionState["applied"]> = { ...(previous?.applied ?? {}) };
  await report.say(`provisioning from ${device} (${seed.name}, sha256 ${sha256.slice(0, 12)})`);

  const text = new TextDecoder().decode(seed.content);
  const checked = checkProvisioning(text, seed.name, loadBalancerProblems);
  const p = checked.provisioning;
  const problems = [...checked.problems];
  const invalid = new Set<SectionName>(checked.invalid);
  // The box itself may refuse a valid file: an interface or account it does not have.
  if (p.admin) {
    for (const why of await checkAdminTarget(opts.root, p.admin)) {
      problems.push({ path: ["admin", "user"], message: why });
      invalid.add("admin");
    }
  }
  const netTarget: NetworkTarget = { netns: opts.netns };
  if (p.network) {
    try {
      const found = await checkNetworkTarget(netTarget, p.network);
      problems.push(...found);
      if (found.length > 0) invalid.add("network");
    } catch (e) {
      problems.push({ path: ["network"], message: `cannot list interfaces: ${message(e)}` });
      invalid.add("network");
    }
  }
  result.problems = inFileOrder(problems, checked.lineOf ?? (() => undefined));
  if (problems.length > 0) {
    await report.say(
      `the provisioning file has ${problems.length} problem${problems.length === 1 ? "" : "s"}:`,
      ...result.problems.map((x) => `  ${formatProblem(x)}`),
    );
  }
  if (checked.warnings.length > 0) {
    await report.say(...checked.warnings.map((w) => `warning: ${formatProblem(w)}`));
  }
  let appliedLb: ConfigDocument | undefined;
  if (checked.fatal) {
    result.sections = allSections("invalid");
    await report.say("nothing was applied; fix the file and build a new seed");
  } else {
    for (const s of SECTION_ORDER) {
      if (invalid.has(s)) result.sections[s] = "invalid";
      else if (p[s] !== undefined) result.sections[s] = "applied"; // until it fails below
    }
    const host: HostTarget = { root: opts.root, liveHostname: opts.root === "/" };
    // The seed applied before is the base of this one's changes (--force: none, the seed's
    // every setting is applied again over what runs).
    const base = opts.force ? undefined : previous?.applied;
    const parsedSource = parseSource(text, seed.name);
    const rawNetwork = parsedSource.ok && typeof parsedSource.source.value === "object" &&
        parsedSource.source.value !== null
      ? (parsedSource.source.value as Record<string, unknown>).network
      : undefined;
    if (migrating) {
      await report.say(
        "this seed was applied by an earlier release: its network section goes into the " +
          "daemon's configuration now; the other sections stay as they are",
      );
      const lb = checkLoadBalancer(p.loadBalancer);
      if (lb.ok) appliedParts.loadBalancer = loadBalancerBase(lb.document);
    }
    const attempt = async (s: SectionName, fn: () => Promise<string>) => {
      if (result.sections[s] !== "applied") return;
      if (migrating && s !== "network") return;
      try {
        await report.say(`${s}: ${await fn()}`);
      } catch (e) {
        result.sections[s] = "failed";
        result.failures.push(`${s}: ${message(e)}`);
        await report.say(`${s}: FAILED: ${message(e)}`);
      }
    };
    await attempt("hostname", async () => {
      await applyHostname(host, p.hostname!);
      return `set to ${p.hostname}`;
    });
    await attempt("admin", async () => {
      const file = await applyAdminKeys(opts.root, p.admin!);
      return `${p.admin!.sshKeys.length} SSH key(s) written to ${file}`;
    });
    // The first seed's management port goes up before the daemon is asked for anything, with
    // the management side (sshd's addresses, the firewall) for it: under emulation the daemon
    // starts tens of seconds after this, and SSH on the provisioned address waited for it. The
    // daemon applies the same lines again as part of the section and keeps them. Only for the
    // first seed: a later one is a change composed with the shell's (below), not a replay.
    if (previous === undefined && rawNetwork !== undefined && !checked.fatal) {
      const part = managementPart(rawNetwork);
      if (part !== undefined) {
        const failed = await runBatch(netTarget, networkBatch({ ...part, routes: [] }), false);
        if (failed === "") {
          await report.say(
            `network: management port ${managementInterface(part)} up before the daemon (${
              part.interfaces[0].addresses.map(formatPrefix).join(", ") || "no address"
            })`,
          );
          if (opts.mgmt ?? opts.root === "/") {
            await applyMgmtAfter(opts, report, {
              network: part,
              admin: result.sections.admin === "applied" ? p.admin : undefined,
            });
          }
        } else {
          await report.say(`network: the management port could not go up early: ${failed}`);
        }
      }
    }
    // The network and the load balancer go through the daemon, which keeps them: each as a
    // change from the seed applied before (seed_network.ts), so the shell's changes that
    // this seed does not touch stay.
    await attempt("network", async () => {
      const outcome = await applySeedNetwork(
        daemon,
        baseNetwork(base?.network),
        p.network!,
        false,
      );
      if (outcome.applied !== undefined) appliedParts.network = outcome.applied;
      if (!outcome.whole) throw new Error(outcome.report);
      return outcome.report;
    });
    if (result.sections.network === "invalid" && rawNetwork !== undefined) {
      // The section is invalid, but its management port may not be: that part alone goes in,
      // so a bad data-interface address does not cost the box its management address.
      const part = managementPart(rawNetwork);
      if (part !== undefined) {
        try {
          const outcome = await applySeedNetwork(daemon, baseNetwork(base?.network), part, true);
          if (outcome.applied !== undefined) appliedParts.network = outcome.applied;
          await report.say(`network: ${outcome.report}; the rest is invalid (reported above)`);
        } catch (e) {
          await report.say(
            `network: the management port could not be applied either: ${message(e)}`,
          );
        }
      }
    }
    await attempt("loadBalancer", async () => {
      const checkedLb = checkLoadBalancer(p.loadBalancer);
      if (!checkedLb.ok) throw new Error("invalid (reported above)");
      appliedLb = checkedLb.document;
      const line = await applySeedLoadBalancer(
        daemon,
        baseLoadBalancer(base?.loadBalancer),
        checkedLb.document,
      );
      appliedParts.loadBalancer = loadBalancerBase(checkedLb.document);
      return line;
    });
    await attempt(
      "ha",
      () =>
        applyHa(
          { root: opts.root, restartService: opts.root === "/", routerId: p.hostname },
          p.ha!,
        ),
    );
    const notApplied = SECTION_ORDER.filter((s) =>
      result.sections[s] === "invalid" || result.sections[s] === "failed"
    );
    const applied = SECTION_ORDER.filter((s) => result.sections[s] === "applied");
    await report.say(
      `done: applied ${applied.length > 0 ? applied.join(", ") : "nothing"}` +
        (notApplied.length > 0
          ? `; NOT applied: ${notApplied.map((s) => `${s} (${result.sections[s]})`).join(", ")}`
          : ""),
    );
  }
  if (opts.mgmt ?? opts.root === "/") {
    await applyMgmtAfter(opts, report, {
      network: result.sections.network === "applied" ? p.network : previous?.network,
      admin: result.sections.admin === "applied" ? p.admin : undefined,
      ha: result.sections.ha === "applied" ? p.ha : undefined,
      loadBalancer: result.sections.loadBalancer === "applied" ? appliedLb : undefined,
    });
  }
  await client?.close();
  const state: ProvisionState = {
    sha256,
    seed: device,
    processedAt: new Date().toISOString(),
    sections: result.sections,
    complete: !Object.values(result.sections).includes("failed"),
    text,
    applied: appliedParts,
  };
  try {
    await writeState(stateDir, state);
  } catch (e) {
    await report.say(`cannot record the applied seed in ${stateDir}: ${message(e)}`);
  }
  return result;
}

/**
 * Stores the management input of what the box now carries and applies it (fullnat-mgmt.service
 * applies the stored one at every boot). Its problems are reported, never fatal: the sections
 * were applied, and the management side falls back rather than fails.
 */
async function applyMgmtAfter(
  opts: FirstbootOptions,
  report: Reporter,
  parts: Parameters<typeof managementInputOf>[0],
): Promise<void> {
  const input = managementInputOf(parts);
  try {
    const dir = defaultMgmtStateDir(opts.root);
    const r = await withMgmtLock(dir, async () => {
      await writeInput(dir, input);
      return await applyManagement(
        { root: opts.root, netns: opts.netns, reloadSshd: opts.root === "/", recordDir: dir },
        input,
      );
    });
    await report.say(
      ...r.done.map((d) => `management: ${d}`),
      ...r.problems.map((x) => `management: PROBLEM: ${x}`),
    );
    // Applied here, and left on record: the boot's Deno apply after this has nothing to add.
    if (opts.root === "/") {
      await Deno.remove(MGMT_APPLY_FLAG).catch(() => {});
    }
  } catch (e) {
    await report.say(`management: FAILED: ${message(e)}`);
  }
}
