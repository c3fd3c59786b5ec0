import assert from "node:assert/strict";
import { applyDataPathSysctls, restoreSysctls } from "../../../src/kernel/sysctl.ts";

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
    ]);
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/conf/eth0/rp_filter`), "0\n");
    // Second run: nothing left to change. No IPv6 in the fake tree: skipped.
    assert.deepEqual(applyDataPathSysctls({ root }), []);
    restoreSysctls(changes);
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/conf/eth0/rp_filter`), "1\n");
    assert.equal(Deno.readTextFileSync(`${root}/net/ipv4/ip_forward`), "0\n");
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
