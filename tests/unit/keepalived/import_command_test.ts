/**
 * `config import keepalived FILE [--dry-run]` in the shell and as a one-shot command, against
 * the in-process daemon of the shell tests: the dry run prints the document and the plan and
 * changes nothing, applying is all or nothing, what keepalived cannot say keeps its running
 * value, problems are listed at their lines with exit 1.
 */
import assert from "node:assert/strict";
import { formatConfig, parseConfig } from "../../../src/persist/document.ts";
import { shellSession, startDaemon, type TestDaemon } from "../shell/fixture.ts";

const VIP = "198.51.100.10";

/** A keepalived.conf that uses only fields today's document knows (no checks). */
const PLAIN = `! Configuration File for keepalived
global_defs {
   router_id LB1
}

vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 50
    virtual_ipaddress {
        ${VIP}
    }
}

local_address_group laddr_g1 {
    203.0.113.201-202
}

virtual_server ${VIP} 80 {
    lb_algo rr
    lb_kind FNAT
    persistence_timeout 300
    protocol TCP
    laddr_group_name laddr_g1

    real_server 203.0.113.11 80 {
        weight 3
    }
    real_server 203.0.113.12 8080 {
        lvs_method NAT
    }
}
`;

async function withShell(
  fn: (s: ReturnType<typeof shellSession>, d: TestDaemon) => Promise<void>,
  stdin?: () => Promise<string>,
): Promise<void> {
  const d = await startDaemon();
  const s = shellSession(d.socket, stdin);
  try {
    await fn(s, d);
  } finally {
    await s.close();
    await d.dispose();
  }
}

Deno.test("config import keepalived --dry-run prints the document and the plan, changes nothing", () =>
  withShell(async (s, d) => {
    const file = `${d.dir}/keepalived.conf`;
    await Deno.writeTextFile(file, PLAIN);
    const r = await s.run(`config import keepalived ${file} --dry-run`);
    assert.equal(r.code, 0, r.err);
    const doc = JSON.parse(r.out);
    assert.equal(
      r.out + "\n",
      formatConfig(parseConfig(r.out)),
      "standard output is the document alone",
    );
    assert.deepEqual(doc.services[0].localAddresses, ["203.0.113.201", "203.0.113.202"]);
    assert.deepEqual(
      doc.services[0].realServers.map((x: { method: string; weight: number }) => [
        x.method,
        x.weight,
      ]),
      [["fullnat", 3], ["nat", 1]],
    );
    assert.equal(doc.services[0].persistence, 300);
    assert.equal(
      r.err,
      [
        `note: ${file}:2: global_defs skipped (router_id): keepalived's own settings`,
        `note: ${file}:6: vrrp_instance VI_1 skipped: VRRP is left to keepalived itself, run beside the daemon`,
        "1 service; applying it would:",
        `  + service tcp ${VIP}:80 rr persistence 300`,
        `  + rs 203.0.113.11:80 fullnat weight 3 in tcp ${VIP}:80`,
        `  + rs 203.0.113.12:8080 nat weight 1 in tcp ${VIP}:80`,
        `  + laddr 203.0.113.201 in tcp ${VIP}:80`,
        `  + laddr 203.0.113.202 in tcp ${VIP}:80`,
      ].join("\n"),
    );
    assert.equal(d.control.listServices().length, 0, "a dry run changes nothing");
  }));

Deno.test("config import keepalived applies the file as the whole configuration", () =>
  withShell(async (s, d) => {
    // Something the file does not list is removed; what it cannot say is kept.
    assert.equal((await s.run("service add tcp 198.51.100.99:80")).code, 0);
    assert.equal((await s.run(`service add tcp ${VIP}:80 --no-toa`)).code, 0);
    assert.equal((await s.run("timeout set --tcp-established 900")).code, 0);
    const file = `${d.dir}/keepalived.conf`;
    await Deno.writeTextFile(file, PLAIN);
    const r = await s.run(`config import keepalived ${file}`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^imported 1 service:\n/);
    assert.match(r.out, /^ {2}- service tcp 198\.51\.100\.99:80/m);
    const [svc, ...rest] = d.control.listServices();
    assert.equal(rest.length, 0);
    assert.deepEqual(
      [svc.address, svc.scheduler, svc.persistence, svc.toa, svc.realServers.length],
      [VIP, "rr", 300, false, 2],
    );
    assert.equal(d.control.getTimeouts().tcpEstablished, 900, "no lvs_timeouts: kept");
    const again = await s.run(`config import keepalived ${file}`);
    assert.deepEqual([again.code, again.out], [0, "imported 1 service: nothing to change"]);
  }));

Deno.test("config import keepalived takes lvs_timeouts and reads standard input", async () => {
  const text = PLAIN.replace("router_id LB1", "lvs_timeouts tcp 7200 udp 60");
  await withShell(async (s, d) => {
    const r = await s.run("config import keepalived -");
    assert.equal(r.code, 0, r.err);
    const t = d.control.getTimeouts();
    assert.deepEqual([t.tcpEstablished, t.udp, t.tcpFinWait], [7200, 60, 7]);
    assert.match(r.err, /^note: stdin:6: vrrp_instance VI_1 skipped/m);
  }, () => Promise.resolve(text));
});

Deno.test("config import keepalived lists every problem at its line and applies nothing", () =>
  withShell(async (s, d) => {
    const file = `${d.dir}/keepalived.conf`;
    await Deno.writeTextFile(
      file,
      PLAIN.replace("lb_kind FNAT", "lb_kind SNAT").replace("lb_algo rr", "lb_algo sed")
        .replace("    weight 3", "    weight 3\n        notify_up /bin/true"),
    );
    const r = await s.run(`config import keepalived ${file}`);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.deepEqual(r.err.split("\n").filter((l) => !l.startsWith("note: ")), [
      `${file}:19: lb_algo sed (shortest expected delay): not supported; fullnat schedules ` +
      "with rr, wrr, lc, wlc, dh, sh or mh",
      `${file}:20: lb_kind SNAT (DPVS): not supported (fullnat balances services)`,
      `${file}:27: notify_up /bin/true: not supported yet (no scripts run on state changes)`,
      `error: nothing imported: 3 problems in ${file}`,
    ]);
    assert.equal(d.control.listServices().length, 0);
    const dry = await s.run(`config import keepalived ${file} --dry-run`);
    assert.deepEqual([dry.code, dry.out], [1, ""], "a dry run with problems shows them, exit 1");
    assert.match(dry.err, /lb_kind SNAT \(DPVS\): not supported/);
  }));

Deno.test("config import keepalived refuses a missing file with exit 2", () =>
  withShell(async (s, d) => {
    const r = await s.run(`config import keepalived ${d.dir}/nope.conf`);
    assert.deepEqual([r.code, r.err], [
      2,
      `error: ${d.dir}/nope.conf: no such file; give the path of a keepalived.conf`,
    ]);
  }));

Deno.test("config import keepalived with checks: applied, the check listed in the configuration", () =>
  withShell(async (s, d) => {
    const file = `${d.dir}/keepalived.conf`;
    await Deno.writeTextFile(
      file,
      PLAIN.replace(
        "        weight 3\n",
        "        weight 3\n        TCP_CHECK {\n            connect_timeout 3\n        }\n",
      ),
    );
    const r = await s.run(`config import keepalived ${file}`);
    assert.equal(r.code, 0, r.err);
    const services = d.control.listServices();
    assert.equal(services.length, 1);
    assert.deepEqual(services[0].realServers[0].checks?.map((c) => [c.type, c.connectTimeout]), [
      ["tcp", 3],
    ]);
  }));

Deno.test("fullnat config import keepalived runs as a one-shot command", async () => {
  const d = await startDaemon();
  try {
    const file = `${d.dir}/keepalived.conf`;
    await Deno.writeTextFile(file, PLAIN);
    const main = new URL("../../../main.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", main, "config", "import", "keepalived", file, "--dry-run"],
      env: { NO_COLOR: "1", FULLNAT_SOCKET: d.socket },
      stdin: "null",
    }).output();
    const text = new TextDecoder();
    assert.equal(out.code, 0, text.decode(out.stderr));
    assert.equal(JSON.parse(text.decode(out.stdout)).services[0].address, VIP);
    assert.match(text.decode(out.stderr), /1 service; applying it would:/);
  } finally {
    await d.dispose();
  }
});
