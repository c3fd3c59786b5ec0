/** The mapped shared file and the box clock (`src/kernel/shared_file.ts`). */
import assert from "node:assert/strict";
import { boxClock, monotonicMs, SharedFile } from "../../../src/kernel/shared_file.ts";

Deno.test("SharedFile: what one mapping writes, a later mapping of the file reads back", () => {
  const dir = Deno.makeTempDirSync({ prefix: "fullnat-shared-" });
  try {
    const path = `${dir}/t`;
    const a = SharedFile.open(path, 1 << 16);
    assert.equal(Deno.statSync(path).size, 1 << 16, "the file is grown to the size asked");
    new Uint32Array(a.bytes)[100] = 0xdeadbeef;
    a.close();
    const b = SharedFile.open(path, 1 << 16);
    assert.equal(new Uint32Array(b.bytes)[100], 0xdeadbeef);
    b.close();
    assert.throws(
      () => SharedFile.open(path, 0),
      /cannot map .*: size 0 is not a positive integer/,
    );
    assert.throws(() => SharedFile.open(`${dir}/none/t`, 4096), /cannot open .*none\/t: /);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("monotonicMs and boxClock read the same clock, which moves forward", async () => {
  const clock = boxClock();
  const a = monotonicMs();
  await new Promise((r) => setTimeout(r, 20));
  const b = clock();
  assert.ok(b - a >= 15 && b - a < 5000, `advanced ${b - a} ms`);
});
