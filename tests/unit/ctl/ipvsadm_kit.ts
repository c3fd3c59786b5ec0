/**
 * What the ipvsadm option tests share: a command line split into words, the refusal ipvsadm
 * would print for a line, and a line run against a control target that must succeed.
 *
 * @module
 */
import { deepStrictEqual } from "node:assert/strict";
import { parseIpvsadm } from "../../../src/ctl/ipvsadm/parse.ts";
import { runIpvsadm } from "../../../src/ctl/ipvsadm/run.ts";
import type { RemoteControl } from "../../../src/ctl/remote.ts";

/** A command line as argv (words split on white space). */
export const argv = (line: string): string[] => line.split(/\s+/);

/** Asserts that parsing `line` is refused with exactly `message` and `exitCode`. */
export function refused(line: string, message: string, exitCode = 2): void {
  deepStrictEqual(parseIpvsadm(argv(line)), { ok: false, error: { message, exitCode } }, line);
}

/** Runs `line` (with `stdin` for `-R`) against `control`; asserts exit 0 and no stderr. */
export async function ok0(control: RemoteControl, line: string, stdin?: string): Promise<string> {
  const r = await runIpvsadm(argv(line), control, {
    ...(stdin !== undefined && { stdin: () => Promise.resolve(stdin) }),
  });
  deepStrictEqual({ code: r.exitCode, stderr: r.stderr }, { code: 0, stderr: "" }, line);
  return r.stdout;
}
