/** The fast path's kernel settings, written on a fake /proc/sys tree and put back. */
import assert from "node:assert/strict";
import { DEFAULT_TIMEOUTS } from "../fullnat/types.ts";
import { offloadSysctls } from "./offload_sysctls.ts";
import { applySysctls, restoreSysctls } from "./sysctl.ts";

Deno.test("offload sysctls: loose off, accounting on, TCP timeouts the engine's; put back", () => {
  const root = Deno.makeTempDirSync();
  try {
    const nf = `${root}/net/netfilter`;
    Deno.mkdirSync(nf, { recursive: true });
    const before: Record<string, string> = {
      nf_conntrack_tcp_loose: "1",
      nf_conntrack_acct: "0",
      nf_conntrack_tcp_timeout_established: "432000",
      nf_conntrack_tcp_timeout_time_wait: "120",
      nf_conntrack_tcp_timeout_close: "3",
    };
    for (const [k, v] of Object.entries(before)) Deno.writeTextFileSync(`${nf}/${k}`, `${v}\n`);
    const changed = applySysctls(
      offloadSysctls({ ...DEFAULT_TIMEOUTS, tcpEstablished: 900 }),
      { root },
    );
    // Absent settings are left alone; settings already right are not changes.
    assert.deepEqual(changed.map((c) => `${c.key}=${c.to} (was ${c.from})`), [
      "net.netfilter.nf_conntrack_tcp_loose=0 (was 1)",
      "net.netfilter.nf_conntrack_acct=1 (was 0)",
      "net.netfilter.nf_conntrack_tcp_timeout_established=900 (was 432000)",
      "net.netfilter.nf_conntrack_tcp_timeout_time_wait=7 (was 120)",
    ]);
    restoreSysctls(changed);
    for (const [k, v] of Object.entries(before)) {
      assert.equal(Deno.readTextFileSync(`${nf}/${k}`).trim(), v, k);
    }
  } finally {
    Deno.removeSync(root, { recursive: true });
  }
});
