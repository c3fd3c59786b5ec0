/**
 * End to end with the real daemon: a configuration made with `fullnat ipvsadm` commands is
 * saved with `-S`, cleared with `-C`, restored with `-R` from standard input and saved again,
 * byte for byte the same (scheduler flags included); a restore input with bad lines is refused
 * whole; and `-L --rate` shows non-zero rates while HTTP flows through the VIP.
 */
import assert from "node:assert/strict";
import { type Bed, fullnatService, withBed } from "../../../testkit/bed.ts";
import { waitFor } from "../../../testkit/wait.ts";
import { newConnectionsCommand } from "../../../testkit/curl.ts";

const MAIN = new URL("../../../main.ts", import.meta.url).pathname;

/** `fullnat ipvsadm -R` with `input` on its standard input. */
async function restore(bed: Bed, input: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "ipvsadm", "-R"],
    env: { FULLNAT_SOCKET: bed.lb.socket },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("e2e ipvsadm: -S, -C, -R, -S gives the same rules; a bad input changes nothing", async () => {
  await withBed({}, async (bed) => {
    const [rs1, rs2] = bed.topo.addrs.realServers;
    const [l1, l2, l3] = bed.topo.addrs.localAddrs;
    await fullnatService(bed, [l2, l1]);
    const https = `${bed.vip}:443`;
    await bed.lb.ipvsadmOk("-A", "-t", https, "-s", "wrr", "-p", "600");
    await bed.lb.ipvsadmOk("-a", "-t", https, "-r", `${rs1}:8443`, "-m", "-w", "3");
    await bed.lb.ipvsadmOk("-a", "-t", https, "-r", `${rs2}:8443`, "-b", "-w", "0");
    await bed.lb.ipvsadmOk("-P", "-t", https, "-z", l3);
    await bed.lb.ipvsadmOk("-A", "-u", `${bed.vip}:53`, "-s", "rr");
    await bed.lb.ipvsadmOk("-a", "-u", `${bed.vip}:53`, "-r", rs1, "-w", "2");
    // Scheduler flags travel on the -A line, written as mainline ipvsadm writes them.
    const hashed = `${bed.vip}:81`;
    await bed.lb.ipvsadmOk(
      "-A",
      "-t",
      hashed,
      "-s",
      "mh",
      "-b",
      "mh-port,mh-fallback",
      "-p",
      "300",
    );
    await bed.lb.ipvsadmOk("-a", "-t", hashed, "-r", `${rs2}:80`, "-b", "-w", "1");

    const saved = await bed.lb.ipvsadmOk("-S", "-n");
    const rules = saved.trimEnd().split("\n");
    assert.equal(rules.filter((l) => l.startsWith("-A ")).length, 4, saved);
    assert.equal(rules.filter((l) => l.startsWith("-a ")).length, 3 + 2 + 1 + 1, saved);
    assert.deepEqual(rules.filter((l) => l.startsWith("-P ")), [
      `-P -t ${bed.vip}:80 -z ${l2}`,
      `-P -t ${bed.vip}:80 -z ${l1}`,
      `-P -t ${https} -z ${l3}`,
    ]);
    assert.ok(rules.includes(`-A -t ${https} -s wrr -p 600`), saved);
    assert.ok(rules.includes(`-A -t ${hashed} -s mh -p 300 -b mh-fallback,mh-port`), saved);
    assert.ok(rules.includes(`-a -t ${https} -r ${rs1}:8443 -m -w 3`), saved);
    assert.ok(rules.includes(`-a -u ${bed.vip}:53 -r ${rs1}:53 -b -w 2`), saved);
    // Names are never resolved: -S without -n prints the same.
    assert.equal(await bed.lb.ipvsadmOk("-S"), saved);

    await bed.lb.ipvsadmOk("-C");
    assert.equal(await bed.lb.ipvsadmOk("-S", "-n"), "");
    const r = await restore(bed, saved);
    assert.deepEqual(r, { code: 0, stdout: "", stderr: "" });
    assert.equal(await bed.lb.ipvsadmOk("-S", "-n"), saved);
    // The restored service forwards.
    const http = await bed.topo.exec("client", [
      "curl",
      "-s",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code}",
      "--max-time",
      "10",
      `http://${bed.vip}/`,
    ]);
    assert.equal(http.stdout, "200", http.stderr);

    const bad = await restore(
      bed,
      `-C\n-A -t ${bed.vip}:8080 -s rr\n-a -t ${bed.vip}:8080 -r ${rs1} -w -1\n` +
        `-P -t ${bed.vip}:9999 -z ${l1}\n`,
    );
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      "line 3: illegal weight specified\nline 4: Service not defined\n" +
        "nothing restored: 2 of 4 command lines refused\n",
    );
    assert.equal(await bed.lb.ipvsadmOk("-S", "-n"), saved, "a refused restore changes nothing");
  });
});

/** The numbers of a `-L -n --rate` row: CPS, InPPS, OutPPS, InBPS, OutBPS. */
function rateRow(listing: string, name: string): number[] {
  const row = listing.split("\n").map((l) => l.trim().split(/\s+/)).find((w) =>
    w[0] === name || w[1] === name
  );
  assert.ok(row, `no row for ${name} in:\n${listing}`);
  return row.slice(-5).map(Number);
}

Deno.test("e2e ipvsadm -L --rate: non-zero rates while HTTP flows, per service and real server", async () => {
  await withBed({}, async (bed) => {
    await fullnatService(bed, bed.topo.addrs.localAddrs.slice(0, 1));
    const url = `http://${bed.vip}/`;
    // One curl, many URLs, "Connection: close": a stream of new connections until killed.
    const client = bed.topo.spawn(
      "client",
      newConnectionsCommand(url, 20_000, { maxTimeSec: 60 }),
    );
    try {
      let listing = "";
      await waitFor(async () => {
        listing = await bed.lb.ipvsadmOk("-L", "-n", "--rate");
        const [cps, inPps, outPps, inBps, outBps] = rateRow(listing, `${bed.vip}:80`);
        return cps > 0 && inPps > 0 && outPps > 0 && inBps > 0 && outBps > 0;
      }, { timeoutMs: 20_000, intervalMs: 1000 });
      console.log(listing);
      const lines = listing.split("\n");
      assert.equal(
        lines[1],
        "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS",
      );
      const [cps, inPps] = rateRow(listing, `${bed.vip}:80`);
      // A connection is at least a SYN, an ACK, a request and a FIN from the client.
      assert.ok(inPps >= 3 * cps, `InPPS ${inPps} vs CPS ${cps}`);
      const rsCps = bed.topo.addrs.realServers.map((a) => rateRow(listing, `${a}:80`)[0]);
      assert.ok(rsCps.every((c) => c > 0), `every RS has connections: ${rsCps}`);
      // Each RS's estimate is its own: together they come to the service's, give or take
      // each one's rounding.
      const sum = rsCps.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - cps) <= rsCps.length, `RS CPS ${rsCps} vs service ${cps}`);
    } finally {
      try {
        client.kill("SIGKILL");
      } catch { /* already done */ }
      await client.status;
    }
  });
});
