/**
 * The webhook SSRF guard (DESIGN §11): which literal addresses and URLs are refused, with and
 * without WEBHOOK_ALLOW_PRIVATE, and that a name is judged by every address it resolves to.
 */
import { describe, expect, it } from "vitest";
import { checkedAddress, refusedAddress, refusedUrl, type Resolver } from "../../src/budgets/ssrf.js";

const strict = { allowPrivate: false };
const lenient = { allowPrivate: true };

describe("refusedAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.254", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "linkLocal"],
    ["100.64.0.1", "carrierGradeNat"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "linkLocal"],
    ["fc00::1", "uniqueLocal"],
    ["fd12:3456::1", "uniqueLocal"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:10.1.2.3", "private"],
    ["::ffff:a9fe:a9fe", "linkLocal"],
  ])("refuses %s (%s) by default", (address, range) => {
    expect(refusedAddress(address, strict)).toContain(range);
  });

  it.each(["93.184.216.34", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])("allows the public address %s", (address) => {
    expect(refusedAddress(address, strict)).toBeNull();
  });

  it("allows private, loopback and link-local with WEBHOOK_ALLOW_PRIVATE, never unspecified or multicast", () => {
    for (const a of ["127.0.0.1", "10.0.0.1", "192.168.0.10", "169.254.1.1", "::1", "fd00::1", "100.64.1.1"]) expect(refusedAddress(a, lenient)).toBeNull();
    for (const a of ["0.0.0.0", "224.0.0.1", "ff02::1", "::"]) expect(refusedAddress(a, lenient)).not.toBeNull();
  });
});

describe("refusedUrl (at create)", () => {
  it("needs https:// unless private addresses are allowed, then http:// too", () => {
    expect(refusedUrl("https://hooks.example.com/x", strict)).toBeNull();
    expect(refusedUrl("http://hooks.example.com/x", strict)).toContain("https://");
    expect(refusedUrl("http://127.0.0.1:8080/x", lenient)).toBeNull();
    expect(refusedUrl("ftp://hooks.example.com/x", lenient)).not.toBeNull();
    expect(refusedUrl("file:///etc/passwd", lenient)).not.toBeNull();
    expect(refusedUrl("not a url", strict)).toContain("absolute URL");
  });

  it("judges literal hosts, in every spelling the URL parser normalises", () => {
    expect(refusedUrl("https://127.0.0.1/x", strict)).toContain("loopback");
    expect(refusedUrl("https://2130706433/x", strict)).toContain("loopback"); // 127.0.0.1 as one number
    expect(refusedUrl("https://0x7f.1/x", strict)).toContain("loopback");
    expect(refusedUrl("https://[::1]/x", strict)).toContain("loopback");
    expect(refusedUrl("https://[::ffff:169.254.169.254]/x", strict)).toContain("linkLocal");
    expect(refusedUrl("https://localhost/x", strict)).toContain("loopback");
    expect(refusedUrl("https://api.localhost./x", strict)).toContain("loopback");
    expect(refusedUrl("https://user:pw@hooks.example.com/x", strict)).toContain("credentials");
  });
});

describe("checkedAddress (at delivery)", () => {
  const resolver =
    (...addresses: string[]): Resolver =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));

  it("refuses a name if any address it resolves to is refused", async () => {
    const url = new URL("https://hooks.example.com/x");
    await expect(checkedAddress(url, strict, resolver("10.0.0.5"))).rejects.toThrow("hooks.example.com resolves to 10.0.0.5 is a private address");
    await expect(checkedAddress(url, strict, resolver("93.184.216.34", "127.0.0.1"))).rejects.toThrow("loopback");
    await expect(checkedAddress(url, strict, resolver("2606:4700::1", "::ffff:192.168.0.1"))).rejects.toThrow("private");
    await expect(checkedAddress(url, strict, resolver())).rejects.toThrow("no address");
  });

  it("answers the address to connect to, and does not resolve literals", async () => {
    const never: Resolver = async () => {
      throw new Error("resolved a literal");
    };
    expect(await checkedAddress(new URL("https://hooks.example.com/x"), strict, resolver("93.184.216.34", "8.8.8.8"))).toEqual({ address: "93.184.216.34", family: 4 });
    expect(await checkedAddress(new URL("https://[2606:4700::1]/x"), strict, never)).toEqual({ address: "2606:4700::1", family: 6 });
    await expect(checkedAddress(new URL("https://10.9.9.9/x"), strict, never)).rejects.toThrow("private");
  });
});
