/**
 * Validation of a whole provisioning file. Every problem is reported with its path; each
 * top-level section is judged on its own so first boot can apply the valid ones (the box stays
 * reachable with its keys and addresses even when the load-balancer section is wrong).
 *
 * @module
 */

import { crossCheck } from "./cross_check.ts";
import { type Problem, Problems } from "./problems.ts";
import { parseSshPublicKey } from "./ssh_key.ts";
import { describe, list, mapping, text } from "./shape.ts";
import { parseSource } from "./source.ts";
import type { AdminConfig, Provisioning, SectionName } from "./types.ts";
import { SECTION_ORDER } from "./types.ts";
import { validateHa } from "./validate_ha.ts";
import { validateNetwork } from "./validate_network.ts";

const TOP_KEYS = ["version", ...SECTION_ORDER] as const;

/** Checks the load-balancer document; returns its problems with paths inside the document. */
export type LoadBalancerValidator = (document: unknown) => Problem[];

/** The outcome of {@linkcode checkProvisioning}. */
export interface ValidationResult {
  /** The valid sections (invalid and absent ones are undefined). */
  provisioning: Provisioning;
  /** Every problem, in file order of discovery, with line numbers where known. */
  problems: Problem[];
  /** Sections present in the file but not applicable because of their problems. */
  invalid: SectionName[];
  /** True when the file as a whole is unusable (not parseable, not a mapping, wrong version). */
  fatal: boolean;
  /** Likely slips that hold nothing back (see `cross_check.ts`), with lines where known. */
  warnings: Problem[];
  /** The line a path points at in the file, for problems found later (by the box itself). */
  lineOf?: (path: Problem["path"]) => number | undefined;
}

/** RFC 1123 host name that fits the kernel's 64-byte limit. */
function validateHostname(value: unknown, problems: Problems): string | undefined {
  const name = text(value, problems, "a host name");
  if (name === undefined) return undefined;
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  if (name.length > 64 || !name.split(".").every((l) => label.test(l))) {
    problems.add(
      [],
      `${
        JSON.stringify(name)
      } is not a valid host name: use letters, digits and '-' (not first or last), dot-separated, at most 64 characters`,
    );
    return undefined;
  }
  return name;
}

function validateAdmin(value: unknown, problems: Problems): AdminConfig | undefined {
  const m = mapping(value, problems, ["user", "sshKeys", "idleTimeout"]);
  if (m === undefined) return undefined;
  let user = "admin";
  if (m.user !== undefined) {
    const u = text(m.user, problems.at("user"), "a user name");
    if (u !== undefined && !/^[a-z_][a-z0-9_-]{0,31}$/.test(u)) {
      problems.add(["user"], `${JSON.stringify(u)} is not a valid user name`);
    } else if (u !== undefined) user = u;
  }
  const keys: string[] = [];
  if (m.sshKeys === undefined) {
    problems.add(["sshKeys"], "missing; list the admin's SSH public keys (the .pub file lines)");
  } else {
    const items = list(m.sshKeys, problems.at("sshKeys")) ?? [];
    if (Array.isArray(m.sshKeys) && items.length === 0) {
      problems.add(["sshKeys"], "is empty; with no key nobody can log in over SSH");
    }
    items.forEach((item, i) => {
      const p = problems.at("sshKeys", i);
      const line = text(item, p, "an SSH public key line");
      if (line === undefined) return;
      const parsed = parseSshPublicKey(line);
      if (parsed.ok) keys.push(parsed.key);
      else p.add([], parsed.message);
    });
  }
  let idleTimeout: number | undefined;
  if (m.idleTimeout !== undefined) {
    const t = m.idleTimeout;
    if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t > 86400) {
      problems.add(
        ["idleTimeout"],
        `must be whole seconds from 0 (never) to 86400, not ${JSON.stringify(t)}`,
      );
    } else idleTimeout = t;
  }
  return { user, sshKeys: keys, ...(idleTimeout !== undefined && { idleTimeout }) };
}

/**
 * Validates a parsed provisioning value. `validateLoadBalancer` checks the embedded
 * configuration document (the persist layer's validator in production).
 */
export function validateProvisioning(
  value: unknown,
  validateLoadBalancer: LoadBalancerValidator,
): ValidationResult {
  const all = new Problems();
  const provisioning: Provisioning = { version: 1 };
  const invalid: SectionName[] = [];
  const m = mapping(value, all, TOP_KEYS);
  if (m === undefined) {
    return { provisioning, problems: all.list, invalid, fatal: true, warnings: [] };
  }
  let fatal = false;
  if (m.version !== undefined && m.version !== 1) {
    all.add(["version"], `must be 1 (the only version there is), not ${describe(m.version)}`);
    fatal = true;
  }
  for (const section of SECTION_ORDER) {
    if (!(section in m)) continue;
    const p = all.at(section);
    const before = all.list.length;
    const v = m[section];
    if (section === "hostname") provisioning.hostname = validateHostname(v, p);
    else if (section === "admin") provisioning.admin = validateAdmin(v, p);
    else if (section === "network") provisioning.network = validateNetwork(v, p);
    else if (section === "ha") provisioning.ha = validateHa(v, p);
    else {
      for (const problem of validateLoadBalancer(v)) p.add(problem.path, problem.message);
      provisioning.loadBalancer = v;
    }
    if (all.list.length > before) {
      invalid.push(section);
      delete provisioning[section];
    }
  }
  if (fatal) {
    for (const s of SECTION_ORDER) delete provisioning[s];
  }
  return { provisioning, problems: all.list, invalid, fatal, warnings: crossCheck(provisioning) };
}

/**
 * Gives problems the line their path points at and puts them in file order (problems with no
 * line keep their place after those with one).
 */
export function inFileOrder(
  problems: readonly Problem[],
  lineOf: (path: Problem["path"]) => number | undefined,
): Problem[] {
  return problems
    .map((p, i) => ({ p: { ...p, line: p.line ?? lineOf(p.path) }, i }))
    .sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || a.i - b.i)
    .map(({ p }) => p);
}

/**
 * Parses and validates a provisioning file's text (`name` picks YAML or JSON, see
 * `source.ts`). Never throws for bad input: every problem is in the result.
 */
export function checkProvisioning(
  text: string,
  name: string,
  validateLoadBalancer: LoadBalancerValidator,
): ValidationResult {
  const parsed = parseSource(text, name);
  if (!parsed.ok) {
    return {
      provisioning: { version: 1 },
      problems: parsed.problems,
      invalid: [],
      fatal: true,
      warnings: [],
    };
  }
  const result = validateProvisioning(parsed.source.value, validateLoadBalancer);
  const lineOf = parsed.source.lineOf;
  return {
    ...result,
    problems: inFileOrder(result.problems, lineOf),
    warnings: inFileOrder(result.warnings, lineOf),
    lineOf,
  };
}
