/**
 * Runs inside a test namespace and drives {@linkcode Conntrack} there: one JSON command per
 * stdin line, one JSON answer per stdout line (bigints as strings). Commands:
 * `{"op":"create","entries":[...]}`, `{"op":"dump","mark":N,"mask":N}`,
 * `{"op":"delete","tuple":{...}}`, `{"op":"events"}` (what is queued now),
 * `{"op":"wait","ms":N}` (events, waiting up to N ms for the first), `{"op":"counters"}`.
 *
 * @module
 */
import { Conntrack } from "../../../src/kernel/conntrack/conntrack.ts";
import type { CtEvent } from "../../../src/kernel/conntrack/types.ts";

const ct = new Conntrack();
const events = ct.events({ groups: ["destroy"] });
const enc = new TextEncoder();
const say = (x: unknown) =>
  Deno.stdout.writeSync(
    enc.encode(JSON.stringify(x, (_k, v) => typeof v === "bigint" ? v.toString() : v) + "\n"),
  );
say({ ready: true });

let buffered = "";
const dec = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  buffered += dec.decode(chunk, { stream: true });
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.trim() === "") continue;
    const cmd = JSON.parse(line);
    try {
      if (cmd.op === "create") say({ results: ct.create(cmd.entries) });
      else if (cmd.op === "dump") say({ entries: ct.dump(cmd.mark, cmd.mask) });
      else if (cmd.op === "delete") say({ errno: ct.delete(cmd.tuple) });
      else if (cmd.op === "events") say({ events: events.read() });
      else if (cmd.op === "wait") {
        const got: CtEvent[] = [];
        const until = Date.now() + cmd.ms;
        while (got.length === 0 && Date.now() < until) got.push(...await events.wait());
        say({ events: got });
      } else if (cmd.op === "counters") say({ ct: ct.counters, events: events.counters });
      else say({ error: `unknown op ${cmd.op}` });
    } catch (err) {
      say({ error: (err as Error).message });
    }
  }
}
events.close();
ct.close();
