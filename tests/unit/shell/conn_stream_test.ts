import assert from "node:assert/strict";
import type { ConnectionView } from "../../../src/fullnat/types.ts";
import { runLine } from "../../../src/shell/dispatch.ts";
import { createContext } from "../../../src/shell/runtime.ts";
import { renderTable } from "../../../src/shell/table.ts";
import { buildShellTree } from "../../../src/shell/tree.ts";
import { CONNECTION_COLUMNS, connectionCells } from "../../../src/shell/views.ts";
import { RecordingControl } from "../ctl/fake_control.ts";
import { Captured } from "./fixture.ts";

const conn = (client: string, port: number): ConnectionView => ({
  protocol: "tcp",
  method: "fullnat",
  state: "ESTABLISHED",
  expiresInMs: 899_000,
  client: { address: client, port },
  virtual: { address: "198.51.100.10", port: 80 },
  local: { address: "203.0.113.201", port: 5000 + port % 1000 },
  real: { address: "203.0.113.11", port: 80 },
});

/** A daemon whose listing arrives as `pages`, then fails with `failure` when given. */
async function run(line: string, pages: ConnectionView[][], failure?: Error) {
  const io = new Captured();
  const control = Object.assign(new RecordingControl(), {
    call: () => Promise.reject(new Error("no extra ops here")),
    close: () => {},
    async *connectionPages() {
      for (const page of pages) yield page;
      if (failure !== undefined) throw failure;
    },
  });
  const ctx = createContext({
    mode: "shell",
    socket: "/nonexistent",
    io,
    connect: () => Promise.resolve(control),
  });
  const code = await runLine(line, ctx, buildShellTree);
  await ctx.close();
  return { code, out: io.stdout, err: io.stderr.join("\n") };
}

const first = [conn("198.51.100.2", 40001), conn("198.51.100.3", 40002)];
const later = [conn("198.51.100.4", 40003), conn("2001:db8:a::1234:5678", 40004)];

Deno.test("conn list prints as it streams: widths from the first page, later rows keep them", async () => {
  const { code, out } = await run("conn list", [first, later]);
  assert.equal(code, 0);
  // One output per page, not one at the end.
  assert.equal(out.length, 2);
  // The first page lays the table out exactly as a listing of it alone would be.
  assert.equal(out[0], renderTable(CONNECTION_COLUMNS, first.map(connectionCells)));
  const lines = out.join("\n").split("\n");
  assert.equal(lines.length, 5);
  const clientColumn = lines[0].indexOf("VIRTUAL");
  assert.equal(lines[3].indexOf("198.51.100.10:80"), clientColumn, "same widths as page one");
  // The longer client address widens its own line only.
  assert.ok(lines[4].indexOf("198.51.100.10:80") > clientColumn, lines[4]);
});

Deno.test("conn list of one page prints exactly the table of all rows", async () => {
  const all = [...first, ...later];
  const { out } = await run("conn list", [all]);
  assert.equal(out.join("\n"), renderTable(CONNECTION_COLUMNS, all.map(connectionCells)));
  assert.deepEqual((await run("conn list", [])).out, ["no connections"]);
});

Deno.test("conn list --json streams one valid JSON array, the same text as before", async () => {
  const all = [...first, ...later];
  const { code, out } = await run("show connections --json", [first, [later[0]], [later[1]]]);
  assert.equal(code, 0);
  assert.ok(out.length > 1, "written as it arrives");
  assert.equal(out.join("\n"), JSON.stringify(all, null, 2));
  assert.deepEqual(JSON.parse(out.join("\n")), all);
  assert.equal((await run("conn list --json", [])).out.join("\n"), "[]");
  assert.deepEqual(JSON.parse((await run("conn list --json", [[first[0]]])).out.join("\n")), [
    first[0],
  ]);
});

Deno.test("conn list that fails part-way says the listing is incomplete and fails", async () => {
  const lost = new Error("lost the fullnat control connection: reset");
  const { code, out, err } = await run("conn list", [first], lost);
  assert.notEqual(code, 0);
  assert.equal(out.length, 1);
  assert.equal(
    err,
    "error: listing incomplete: stopped after 2 connections: " +
      "lost the fullnat control connection: reset",
  );
  // Failing before any row: the plain error, as before.
  const early = await run("conn list", [], lost);
  assert.notEqual(early.code, 0);
  assert.equal(early.err, "error: lost the fullnat control connection: reset");
});

Deno.test("ipvsadm -L -n -c inside the shell prints as the listing streams, the same text", async () => {
  const many = (base: number) =>
    Array.from({ length: 700 }, (_, i) => conn(`198.51.${base}.${i % 250 + 1}`, 1024 + i));
  const pages = [many(1), many(2), many(3)];
  const { code, out } = await run("ipvsadm -L -n -c", pages);
  assert.equal(code, 0);
  assert.ok(out.length > 1, `written in ${out.length} part(s), expected several`);
  const { out: whole } = await run("ipvsadm -L -n -c", [pages.flat()]);
  assert.equal(out.join("\n"), whole.join("\n"));
  assert.equal(out.join("\n").split("\n").length, 2 + 2100);
});
