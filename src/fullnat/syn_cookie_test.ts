import assert from "node:assert/strict";
import {
  BAD_COOKIE,
  checkCookie,
  COOKIE_MSS,
  cookieMssIndex,
  cookieTsval,
  makeCookie,
  tsecrSack,
  tsecrWscale,
} from "./syn_cookie.ts";

// A SYN's addresses as they lie in an IPv4 header: source at 12, destination at 16.
const v4 = Uint8Array.of(
  0x45,
  0,
  0,
  40,
  0,
  0,
  0,
  0,
  64,
  6,
  0,
  0,
  198,
  51,
  100,
  7,
  198,
  51,
  100,
  10,
);
const key = Uint32Array.of(0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00d);
const ports = (40000 << 16) | 80;
const isn = 0xfffffff0 | 0; // a client ISN near the wrap

Deno.test("cookieMssIndex() picks the largest table MSS not above the client's, as Linux", () => {
  assert.deepEqual(
    [100, 536, 1299, 1300, 1439, 1440, 1459, 1460, 8960].map(cookieMssIndex),
    [0, 0, 0, 1, 1, 2, 2, 3, 3],
  );
});

Deno.test("a cookie decodes to its MSS index in its minute and the next, not after", () => {
  for (let mss = 0; mss < COOKIE_MSS.length; mss++) {
    const c = makeCookie(key, v4, 12, 16, 1, ports, isn, 1000, mss);
    assert.equal(checkCookie(key, v4, 12, 16, 1, ports, isn, c, 1000), mss);
    assert.equal(checkCookie(key, v4, 12, 16, 1, ports, isn, c, 1001), mss, "one minute old");
    assert.equal(checkCookie(key, v4, 12, 16, 1, ports, isn, c, 1002), BAD_COOKIE, "too old");
    assert.equal(checkCookie(key, v4, 12, 16, 1, ports, isn, c, 999), BAD_COOKIE, "from ahead");
  }
  // The minute counter wraps in the cookie's top byte.
  const c = makeCookie(key, v4, 12, 16, 1, ports, isn, 255, 2);
  assert.equal(checkCookie(key, v4, 12, 16, 1, ports, isn, c, 256), 2);
});

Deno.test("a cookie is refused under another secret, tuple, ISN or when altered", () => {
  const c = makeCookie(key, v4, 12, 16, 1, ports, isn, 7, 3);
  const other = Uint32Array.of(0x01234567, 0x89abcdef, 0xdeadbeef, 0x0badf00e);
  assert.equal(checkCookie(other, v4, 12, 16, 1, ports, isn, c, 7), BAD_COOKIE, "rotated secret");
  assert.equal(checkCookie(key, v4, 12, 16, 1, ports + 1, isn, c, 7), BAD_COOKIE, "port");
  assert.equal(checkCookie(key, v4, 16, 12, 1, ports, isn, c, 7), BAD_COOKIE, "addresses");
  // The ISN only offsets the cookie (as in Linux): one that differs by more than the table
  // size leaves no valid index.
  assert.equal(checkCookie(key, v4, 12, 16, 1, ports, isn + 16, c, 7), BAD_COOKIE, "ISN");
  // Guessing: of many random cookies, about 4 in 2^24 per valid minute pass.
  let passed = 0;
  for (let i = 0; i < 20000; i++) {
    const guess = (Math.random() * 2 ** 32) | 0;
    if (checkCookie(key, v4, 12, 16, 1, ports, isn, guess, 7) !== BAD_COOKIE) passed++;
  }
  assert.ok(passed <= 2, `${passed} random cookies passed`);
});

Deno.test("IPv6 cookies hash the whole 128-bit addresses", () => {
  const v6 = new Uint8Array(40);
  v6.set([0x20, 0x01, 0x0d, 0xb8], 8);
  v6[23] = 7;
  v6.set([0x20, 0x01, 0x0d, 0xb8], 24);
  v6[39] = 10;
  const c = makeCookie(key, v6, 8, 24, 4, ports, isn, 3, 1);
  assert.equal(checkCookie(key, v6, 8, 24, 4, ports, isn, c, 3), 1);
  v6[20] = 1; // a middle word of the client's address
  assert.equal(checkCookie(key, v6, 8, 24, 4, ports, isn, c, 3), BAD_COOKIE);
});

Deno.test("cookieTsval() carries window scale and SACK in its low 6 bits, never ahead", () => {
  const now = 0x12345678;
  const ts = cookieTsval(now, 7, true, false);
  assert.equal(ts & 0x3f, 7 | 16);
  assert.ok(ts >>> 0 <= now >>> 0 && (now - ts) >>> 0 < 64);
  assert.equal(tsecrWscale(ts), 7);
  assert.equal(tsecrSack(ts), true);
  const none = cookieTsval(now, -1, false, false);
  assert.equal(tsecrWscale(none), -1);
  assert.equal(tsecrSack(none), false);
  assert.equal(tsecrWscale(cookieTsval(now, 15, false, false)), 14, "capped at 14");
  // A clock whose low bits are below the options steps back one block, not ahead.
  const early = cookieTsval(0x40, 14, true, true);
  assert.equal(early >>> 0, 0x3e);
  assert.equal(cookieTsval(0xffffffc0, 1, false, false) >>> 0, 0xffffff81);
});
