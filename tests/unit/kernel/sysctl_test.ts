import assert from "node:assert/strict";
import { applyDataPathSysctls, restoreSysctls } from "../../../src/kernel/sysctl.ts";
import { carrySysctls, clearSysctlCarry, SYSCTL_FILE } from "../../../src/kernel/sysctl_carry.ts";

function fakeTree(): string {
  const root = Deno.makeTempDirSync({ prefix: "fnq-sysctl-" });
  const put = (rel: string, v: string) => {
    const path = `${root}/${rel}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(path, `${v}\n`);
  };
  put("net/ipv4/ip_forward", "0");
  for (const c of ["all", "default", "lo", "eth0", "eth0.100"]) {
    put(`net/ipv4/conf/${c}/rp_filter`, c === "eth0" ? "1" : c === "lo" ? "0" : "2");
    put(`net/ipv4/conf/${c}/accept_local`, c === "eth0.100" ? "1" : "0");
    put(`net/ipv4/conf/${c}/send_redirects`, c === "lo" ? "0" : "1");
  }
  return root;
}

Deno.test("data-path sysctls: changed ones are reported and can be restored", () => {
  const root = fakeTree();
  try {
    const changes = applyDataPathSysctls({ root });
    const keys = changes.map((c) => `${c.key}:${c.from}->${c.to}`);
    assert.deepEqual(keys, [
      "net.ipv4.ip_forward:0->1",
      "net.ipv4.conf.all.rp_filter:2->0",
      "net.ipv4.conf.default.rp_filter:2->0",
      "net.ipv4.conf.eth0.rp_filter:1->0",
      "net.ipv4.conf.eth0/100.rp_filter:2->0",
      "net.ipv4.conf.all.accept_local:0->1",
      "net.ipv4.conf.default.accept_local:0->1",
      "net.ipv4.conf.eth0.accept_local:0->1",
      "net.ipv4.conf.lo.accept_local:0->1",
      "net.ipv4.conf.all.send_redirects:1->0",
      "net.ipv4.conf.default.send_redirects:1->0",
      "net.ipv4.conf.eth0.send_redirects:1->0",
      "net.ipv4.conf.eth0/100.send_redirects:1->0",
    ]);
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/conf/eth0/rp_filter`), "0\n");
    // Second run: nothing left to change. No IPv6 in the fake tree: skipped.
    assert.deepEqual(applyDataPathSysctls({ root }), []);
    restoreSysctls(changes);
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/conf/eth0/rp_filter`), "1\n");
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/ip_forward`), "0\n");
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/conf/all/send_redirects`), "1\n");
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});

Deno.test("carried sysctls: a restarted daemon puts back what the box had before the first", () => {
  const root = fakeTree();
  const runDir = Deno.makeTempDirSync({ prefix: "fnq-sysctl-run-" });
  try {
    // The first daemon changes the settings and keeps what it found.
    const first = carrySysctls(runDir, applyDataPathSysctls({ root })).changes;
    assert.equal(first.length, 13);
    // The one after a restart finds them set, changes nothing, but still knows the originals.
    const second = carrySysctls(runDir, applyDataPathSysctls({ root }));
    assert.equal(second.problem, undefined);
    assert.deepEqual(second.changes, first);
    // A setting someone put back in between is changed again, its first original kept.
    Deno.writeTextFileSync(`${root}/net/ipv4/ip_forward`, "0\n");
    const third = carrySysctls(runDir, applyDataPathSysctls({ root })).changes;
    assert.deepEqual(third, first);
    restoreSysctls(third);
    clearSysctlCarry(runDir);
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/ip_forward`), "0\n");
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/conf/eth0/rp_filter`), "1\n");
    assert.throws(() => Deno.statSync(`${runDir}/${SYSCTL_FILE}`), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(root, { recursive: true });
    Deno.removeSync(runDir, { recursive: true });
  }
});

Deno.test("carried sysctls: an unreadable file is reported and replaced, nothing thrown", () => {
  const runDir = Deno.makeTempDirSync({ prefix: "fnq-sysctl-run-" });
  try {
    Deno.writeTextFileSync(`${runDir}/${SYSCTL_FILE}`, '[{"key": 1}]');
    const fresh = [{ key: "net.ipv4.ip_forward", path: "/x/ip_forward", from: "0", to: "1" }];
    const carry = carrySysctls(runDir, fresh);
    assert.match(carry.problem ?? "", /sysctls\.json: not a list of settings/);
    assert.deepEqual(carry.changes, fresh);
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(`${runDir}/${SYSCTL_FILE}`)), fresh);
  } finally {
    Deno.removeSync(runDir, { recursive: true });
  }
});
