import assert from "node:assert/strict";
import { InvalidArgumentError } from "commander";
import {
  parseAddress,
  parseAddressFilter,
  parseEndpointText,
  parseMethod,
  parseProtocol,
  parseScheduler,
  parseSeconds,
  parseTimeout,
  parseWeight,
} from "../../../src/shell/values.ts";

function refuses(fn: () => unknown, message: RegExp) {
  assert.throws(fn, (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message));
}

Deno.test("parseProtocol() takes tcp/udp in any case and names them when refusing", () => {
  assert.equal(parseProtocol("TCP"), "tcp");
  assert.equal(parseProtocol("udp"), "udp");
  refuses(() => parseProtocol("sctp"), /^'sctp' is not a protocol: use tcp or udp$/);
});

Deno.test("parseEndpointText() needs ip:port and says how to write it", () => {
  assert.deepEqual(parseEndpointText("192.0.2.1:80"), { address: "192.0.2.1", port: 80 });
  assert.deepEqual(parseEndpointText("[2001:DB8:0::1]:443"), { address: "2001:db8::1", port: 443 });
  refuses(() => parseEndpointText("192.0.2.1"), /has no port: write 192\.0\.2\.1:PORT$/);
  refuses(() => parseEndpointText("2001:db8::1"), /has no port: write \[2001:db8::1\]:PORT$/);
  refuses(() => parseEndpointText("192.0.2.1:0"), /port 0 .* give a port from 1 to 65535/);
  refuses(() => parseEndpointText("192.0.2.1:65536"), /not an address:port: write e\.g\./);
  refuses(() => parseEndpointText("www:80"), /not an address:port/);
  refuses(() => parseEndpointText("010.0.0.1:80"), /not an address:port/);
});

Deno.test("parseAddress() and parseAddressFilter() accept numeric addresses only", () => {
  assert.equal(parseAddress("10.0.0.1"), "10.0.0.1");
  assert.equal(parseAddress("2001:db8:0:0::1"), "2001:db8::1");
  refuses(() => parseAddress("10.0.0.1:80"), /has a port: give the address alone/);
  refuses(() => parseAddress("lb1"), /names are not looked up/);
  assert.deepEqual(parseAddressFilter("10.0.0.1"), { address: "10.0.0.1" });
  assert.deepEqual(parseAddressFilter("10.0.0.1:80"), { address: "10.0.0.1", port: 80 });
  refuses(() => parseAddressFilter("x"), /not an address or address:port/);
});

Deno.test("scheduler, method, seconds, timeouts and weights name their valid range", () => {
  assert.equal(parseScheduler("wrr"), "wrr");
  refuses(() => parseScheduler("sed"), /use rr, wrr, lc, wlc, dh, sh or mh/);
  assert.equal(parseMethod("nat"), "nat");
  assert.equal(parseMethod("b"), "fullnat");
  assert.equal(parseMethod("m"), "nat");
  assert.equal(parseMethod("dr"), "dr");
  assert.equal(parseMethod("tunnel"), "tunnel");
  refuses(() => parseMethod("route"), /use fullnat, nat, dr or tunnel/);
  assert.equal(parseSeconds("0"), 0);
  refuses(() => parseSeconds("2678401"), /from 0 to 2678400/);
  refuses(() => parseSeconds("1.5"), /whole number/);
  refuses(() => parseTimeout("0"), /from 1 to 2678400/);
  assert.equal(parseWeight("65535"), 65535);
  refuses(() => parseWeight("65536"), /from 0 to 65535/);
  refuses(() => parseWeight("-1"), /from 0 to 65535/);
});
