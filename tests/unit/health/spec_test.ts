/**
 * The health-check validator and text form: keepalived's defaults filled in, every problem
 * message with its path, normalization (what means the same compares equal) and the text
 * form leaving defaults out and reading back unchanged.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CHECK_DEFAULTS,
  checkDefaults,
  checkKey,
  checkSpecProblems,
  formatCheck,
  miscTimeout,
  normalizeCheck,
} from "../../../src/health/spec.ts";

const P = "services[0].realServers[1].checks[0]";
const problemsOf = (v: unknown, context = {}) => checkSpecProblems(v, P, context).problems;

Deno.test("spec: keepalived's defaults are filled in", () => {
  const spec = normalizeCheck({ type: "tcp" });
  assert.deepEqual(spec, {
    type: "tcp",
    delayLoop: 60,
    connectTimeout: 5,
    retry: 1,
    delayBeforeRetry: 1,
    rise: 1,
    fall: 1,
  });
  assert.deepEqual(CHECK_DEFAULTS, {
    delayLoop: 60,
    connectTimeout: 5,
    retry: 1,
    delayBeforeRetry: 1,
    rise: 1,
    fall: 1,
  });
  const misc = normalizeCheck({ type: "misc", command: "/bin/true", delayLoop: 7 });
  assert.equal(misc.retry, 0, "keepalived's MISC_CHECK makes no retry by default");
  assert.deepEqual(checkDefaults("misc"), { ...CHECK_DEFAULTS, retry: 0 });
  assert.deepEqual(checkDefaults("https"), CHECK_DEFAULTS);
  assert.deepEqual(formatCheck(normalizeCheck({ type: "misc", command: "x", retry: 1 })), {
    type: "misc",
    retry: 1,
    command: "x",
  });
  assert.equal(misc.timeout, undefined);
  assert.equal(miscTimeout(misc), 7, "misc timeout defaults to delayLoop");
  const http = normalizeCheck({ type: "http", urls: [{ path: "/" }] });
  assert.deepEqual(http.urls, [{ path: "/" }], "no statusCodes: any 200-299");
});

Deno.test("spec: every field is checked and each problem names its path", () => {
  const cases: [unknown, string[]][] = [
    [null, [`${P}: must be an object with a type (tcp, http, https or misc) (got null)`]],
    [{}, [`${P}.type: must be one of tcp, http, https, misc (got nothing)`]],
    [{ type: "icmp" }, [`${P}.type: must be one of tcp, http, https, misc (got "icmp")`]],
    [{ type: "tcp", delay: 3 }, [
      `${P}.delay: unknown field (allowed: type, delayLoop, connectTimeout, retry, delayBeforeRetry, rise, fall, connectIp, connectPort, bindTo, bindPort, urls, virtualHost, command, timeout, dynamic)`,
    ]],
    [{ type: "tcp", connectTimeout: -1 }, [
      `${P}.connectTimeout: must be a number of seconds from 0.001 to 86400 (got -1)`,
    ]],
    [{ type: "tcp", delayLoop: 0 }, [
      `${P}.delayLoop: must be a number of seconds from 0.001 to 86400 (got 0)`,
    ]],
    [{ type: "tcp", delayLoop: "5" }, [
      `${P}.delayLoop: must be a number of seconds from 0.001 to 86400 (got "5")`,
    ]],
    [{ type: "tcp", delayBeforeRetry: 86401 }, [
      `${P}.delayBeforeRetry: must be a number of seconds from 0 to 86400 (got 86401)`,
    ]],
    [{ type: "tcp", retry: 1.5 }, [`${P}.retry: must be an integer from 0 to 1000 (got 1.5)`]],
    [{ type: "tcp", rise: 0 }, [`${P}.rise: must be an integer from 1 to 1000 (got 0)`]],
    [{ type: "tcp", fall: 1001 }, [`${P}.fall: must be an integer from 1 to 1000 (got 1001)`]],
    [{ type: "tcp", connectIp: "10.0.0.256" }, [
      `${P}.connectIp: must be an IPv4 or IPv6 address as a string (got "10.0.0.256")`,
    ]],
    [{ type: "tcp", connectIp: "224.0.0.1" }, [
      `${P}.connectIp: 224.0.0.1 is not a unicast address`,
    ]],
    [{ type: "tcp", bindTo: "0.0.0.0" }, [`${P}.bindTo: 0.0.0.0 is not a unicast address`]],
    [{ type: "tcp", connectIp: "192.0.2.1", bindTo: "2001:db8::1" }, [
      `${P}.bindTo: 2001:db8::1 and connectIp 192.0.2.1 are of different IP versions`,
    ]],
    [{ type: "tcp", connectPort: 0 }, [
      `${P}.connectPort: must be an integer from 1 to 65535 (got 0)`,
    ]],
    [{ type: "tcp", bindPort: 65536 }, [
      `${P}.bindPort: must be an integer from 0 to 65535 (got 65536)`,
    ]],
    [{ type: "tcp", urls: [{ path: "/" }], virtualHost: "x" }, [
      `${P}.urls: applies to http and https checks only (the type is tcp)`,
      `${P}.virtualHost: applies to http and https checks only (the type is tcp)`,
    ]],
    [{ type: "http", urls: [{ path: "/" }], command: "x", timeout: 1, dynamic: true }, [
      `${P}.command: applies to misc checks only (the type is http)`,
      `${P}.timeout: applies to misc checks only (the type is http)`,
      `${P}.dynamic: applies to misc checks only (the type is http)`,
    ]],
    [{ type: "http" }, [
      `${P}.urls: must list at least one URL for an http check, like [{"path": "/"}]`,
    ]],
    [{ type: "https", urls: [] }, [
      `${P}.urls: must be a non-empty list of URLs, like [{"path": "/"}] (got [])`,
    ]],
    [{ type: "http", urls: ["/"] }, [`${P}.urls[0]: must be an object with a path (got "/")`]],
    [{ type: "http", urls: [{ path: "health" }] }, [
      `${P}.urls[0].path: must be a path starting with "/" and without spaces, like /health (got "health")`,
    ]],
    [{ type: "http", urls: [{ path: "/a b" }] }, [
      `${P}.urls[0].path: must be a path starting with "/" and without spaces, like /health (got "/a b")`,
    ]],
    [{ type: "http", urls: [{ path: "/", status: 200 }] }, [
      `${P}.urls[0].status: unknown field (allowed: path, statusCodes, digest)`,
    ]],
    [{ type: "http", urls: [{ path: "/", statusCodes: [] }] }, [
      `${P}.urls[0].statusCodes: must be a non-empty list of HTTP status codes (got [])`,
    ]],
    [{ type: "http", urls: [{ path: "/", statusCodes: [200, 600] }] }, [
      `${P}.urls[0].statusCodes[1]: must be an HTTP status code from 100 to 599 (got 600)`,
    ]],
    [{ type: "http", urls: [{ path: "/", statusCodes: [99] }] }, [
      `${P}.urls[0].statusCodes[0]: must be an HTTP status code from 100 to 599 (got 99)`,
    ]],
    [{ type: "http", urls: [{ path: "/", digest: "abc" }] }, [
      `${P}.urls[0].digest: must be an MD5 digest, 32 hexadecimal digits as genhash prints it (got "abc")`,
    ]],
    [{ type: "http", urls: [{ path: "/" }], virtualHost: "a b" }, [
      `${P}.virtualHost: must be a host name without spaces, like www.example.com (got "a b")`,
    ]],
    [{ type: "misc" }, [`${P}.command: must be given for a misc check (the command to run)`]],
    [{ type: "misc", command: "  " }, [
      `${P}.command: must be a command line as a non-empty string (got "  ")`,
    ]],
    [{ type: "misc", command: "a\0b" }, [`${P}.command: must not contain a NUL character`]],
    [{ type: "misc", command: "x", timeout: 0 }, [
      `${P}.timeout: must be a number of seconds from 0.001 to 86400 (got 0)`,
    ]],
    [{ type: "misc", command: "x", dynamic: "yes" }, [
      `${P}.dynamic: must be true or false (got "yes")`,
    ]],
  ];
  for (const [value, expected] of cases) {
    assert.deepEqual(problemsOf(value), expected, JSON.stringify(value));
    assert.equal(checkSpecProblems(value, P).spec, undefined);
  }
});

Deno.test("spec: several problems are all reported", () => {
  const problems = problemsOf({ type: "http", retry: -1, urls: [{ path: "x" }, { digest: 1 }] });
  assert.equal(problems.length, 4, problems.join("\n"));
});

Deno.test("spec: with the real server's address, connectIp and bindTo must be of its family", () => {
  assert.deepEqual(problemsOf({ type: "tcp", bindTo: "2001:db8::1" }, { rsAddress: "192.0.2.1" }), [
    `${P}.bindTo: 2001:db8::1 is IPv6 but the real server 192.0.2.1 is IPv4`,
  ]);
  assert.deepEqual(
    problemsOf({ type: "tcp", connectIp: "192.0.2.5" }, { rsAddress: "2001:db8::5" }),
    [
      `${P}.connectIp: 192.0.2.5 is IPv4 but the real server 2001:db8::5 is IPv6`,
    ],
  );
  assert.deepEqual(
    problemsOf({ type: "tcp", bindTo: "127.0.0.2" }, { rsAddress: "192.0.2.1" }),
    [],
  );
});

Deno.test("spec: normalization makes what means the same equal", () => {
  const all2xx = Array.from({ length: 100 }, (_, i) => 299 - i);
  const a = normalizeCheck({
    type: "misc",
    command: "check.sh",
    delayLoop: 10,
    timeout: 10,
    dynamic: false,
    bindPort: 0,
  });
  assert.deepEqual(formatCheck(a), { type: "misc", delayLoop: 10, command: "check.sh" });
  const h = normalizeCheck({
    type: "http",
    connectIp: "2001:DB8:0::1",
    urls: [{ path: "/", statusCodes: all2xx, digest: "ABCDEF0123456789ABCDEF0123456789" }, {
      path: "/b",
      statusCodes: [301, 200, 200],
    }],
  });
  assert.equal(h.connectIp, "2001:db8::1");
  assert.deepEqual(h.urls, [
    { path: "/", digest: "abcdef0123456789abcdef0123456789" },
    { path: "/b", statusCodes: [200, 301] },
  ]);
  assert.equal(
    checkKey(normalizeCheck({ type: "tcp", retry: 1, fall: 1 })),
    checkKey(normalizeCheck({ type: "tcp" })),
  );
});

Deno.test("spec: the text form leaves defaults out, keeps a fixed order and reads back unchanged", () => {
  const written = {
    dynamic: true,
    command: "/usr/local/bin/check --port 80",
    type: "misc",
    timeout: 3,
    fall: 3,
    delayLoop: 6,
    bindTo: "10.0.0.5",
  };
  const text = formatCheck(normalizeCheck(written));
  assert.deepEqual(Object.keys(text), [
    "type",
    "delayLoop",
    "fall",
    "bindTo",
    "command",
    "timeout",
    "dynamic",
  ]);
  assert.deepEqual(formatCheck(normalizeCheck(text)), text);
  const full = {
    type: "https",
    delayLoop: 2,
    connectTimeout: 0.5,
    retry: 0,
    delayBeforeRetry: 0,
    rise: 2,
    fall: 3,
    connectIp: "192.0.2.20",
    connectPort: 8443,
    bindTo: "192.0.2.1",
    bindPort: 4000,
    urls: [{ path: "/health", statusCodes: [200], digest: "0123456789abcdef0123456789abcdef" }],
    virtualHost: "www.example.com",
  };
  assert.deepEqual(formatCheck(normalizeCheck(full)), full);
  assert.equal(JSON.stringify(formatCheck(normalizeCheck(full))), JSON.stringify(full));
});

Deno.test("spec: normalizeCheck throws listing every problem", () => {
  assert.throws(
    () => normalizeCheck({ type: "tcp", rise: 0, fall: 0 }, "c"),
    /Invalid health check:\n {2}c\.rise: .*\n {2}c\.fall: /,
  );
});
