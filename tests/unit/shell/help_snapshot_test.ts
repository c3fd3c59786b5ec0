/**
 * The help text of every admin command, in the shell and one-shot, compared with the
 * checked-in snapshot `help.snapshot.txt`. A change to any option, argument or description
 * fails here until the snapshot is regenerated on purpose:
 *
 *   UPDATE_SNAPSHOTS=1 deno test -A tests/unit/shell/help_snapshot_test.ts
 */
import assert from "node:assert/strict";
import { Command } from "commander";
import type { CommandContext } from "../../../src/shell/context.ts";
import { runWords } from "../../../src/shell/dispatch.ts";
import { createContext } from "../../../src/shell/runtime.ts";
import { addShellCommand } from "../../../src/shell/shell.ts";
import { addAdminCommands, buildShellTree } from "../../../src/shell/tree.ts";
import { Captured } from "./fixture.ts";

const SNAPSHOT = new URL("./help.snapshot.txt", import.meta.url);

/** The one-shot commands under a root like main.ts's, writing to the context. */
function oneShotTree(ctx: CommandContext): Command {
  const root = new Command("fullnat").exitOverride().configureOutput({
    writeOut: (s) => ctx.io.out(s.replace(/\n$/, "")),
    writeErr: (s) => ctx.io.err(s.replace(/\n$/, "")),
    getOutHelpWidth: () => 80,
    getErrHelpWidth: () => 80,
  });
  addShellCommand(addAdminCommands(root, ctx), ctx);
  return root;
}

/** Every command path under `cmd` (depth first, in definition order). */
function paths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...paths(c, [...prefix, c.name()])]);
}

async function helpTexts(mode: "shell" | "oneshot", build: (ctx: CommandContext) => Command) {
  const io = new Captured();
  const ctx = createContext({ mode, socket: "unused", io, helpWidth: 80 });
  const sections: string[] = [];
  const all = [[], ...paths(build(ctx))];
  for (const path of all) {
    // ipvsadm's help is its own usage text, covered by the ipvsadm tests.
    if (path[0] === "ipvsadm") continue;
    const code = await runWords([...path, "--help"], ctx, build);
    const { out, err } = io.take();
    assert.equal(code, 0, `${path.join(" ")} --help: ${err}`);
    sections.push(`==== ${mode}: ${[...path, "--help"].join(" ")}\n${out}`);
  }
  return sections;
}

Deno.test("help of every admin command matches help.snapshot.txt", async () => {
  const text = [
    ...await helpTexts("shell", buildShellTree),
    ...await helpTexts("oneshot", oneShotTree),
  ].join("\n\n") + "\n";
  if (Deno.env.get("UPDATE_SNAPSHOTS") === "1") {
    await Deno.writeTextFile(SNAPSHOT, text);
    return;
  }
  const expected = await Deno.readTextFile(SNAPSHOT).catch(() => {
    throw new Error(`no snapshot yet: run with UPDATE_SNAPSHOTS=1 to create ${SNAPSHOT.pathname}`);
  });
  assert.equal(text, expected, "help changed: review, then regenerate with UPDATE_SNAPSHOTS=1");
});

Deno.test("every command's help has a description and every option a description", () => {
  const ctx = createContext({ mode: "oneshot", socket: "unused" });
  const check = (cmd: Command, where: string) => {
    for (const c of cmd.commands) {
      const path = `${where} ${c.name()}`.trim();
      assert.notEqual(c.description(), "", `${path} has no description`);
      for (const o of c.options) assert.notEqual(o.description, "", `${path} ${o.flags}`);
      check(c, path);
    }
  };
  check(buildShellTree(createContext({ mode: "shell", socket: "unused" })), "");
  check(oneShotTree(ctx), "fullnat");
});
