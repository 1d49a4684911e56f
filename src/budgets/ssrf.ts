/**
 * The webhook SSRF guard (DESIGN §11). A URL is checked twice: at create, its scheme and any
 * literal address; at delivery, every address its host resolves to — and the request then connects
 * to the address that was checked (a `lookup` handed to the socket), so a DNS answer that changes
 * between the check and the connect (rebinding) cannot reach anything the check refused.
 */
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

export interface GuardOptions {
  /** WEBHOOK_ALLOW_PRIVATE: loopback, private, link-local, ULA and CGNAT allowed, and http://. */
  allowPrivate: boolean;
}

/** Address classes never reachable whatever the setting: they name no single receiver. */
const NEVER = new Set(["unspecified", "broadcast", "multicast"]);

/**
 * Why `address` may not receive webhooks, or null when it may. Only ipaddr.js's "unicast" (public)
 * is allowed by default; everything else it classifies — loopback, private, linkLocal, uniqueLocal,
 * carrierGradeNat, reserved, 6to4/teredo relays… — needs WEBHOOK_ALLOW_PRIVATE. IPv4-mapped IPv6
 * (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
 */
export function refusedAddress(address: string, opts: GuardOptions): string | null {
  if (!ipaddr.isValid(address)) return `'${address}' is not an IP address`;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  if (range === "unicast") return null;
  if (NEVER.has(range)) return `${parsed.toString()} is a ${range} address`;
  return opts.allowPrivate ? null : `${parsed.toString()} is a ${range} address (set WEBHOOK_ALLOW_PRIVATE=true to allow private addresses)`;
}

/** A URL's host without IPv6 brackets. */
const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1");

/**
 * Checks made when a budget is created: an absolute https:// URL (http:// only with
 * allowPrivate), no credentials in it, and a literal address or `localhost` judged as above.
 * Names are resolved only at delivery. Returns the problem, or null.
 */
export function refusedUrl(raw: string, opts: GuardOptions): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL";
  }
  if (url.protocol !== "https:" && !(opts.allowPrivate && url.protocol === "http:")) {
    return opts.allowPrivate ? "must be an https:// or http:// URL" : "must be an https:// URL";
  }
  if (url.username || url.password) return "must not carry credentials";
  const host = bareHost(url);
  if (isIP(host)) return refusedAddress(host, opts);
  const name = host.toLowerCase().replace(/\.$/, "");
  if (!opts.allowPrivate && (name === "localhost" || name.endsWith(".localhost"))) return `${host} is a loopback name`;
  return null;
}

/** dns.lookup with `all: true`, injectable so tests can play a resolver that lies. */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));

export class RefusedAddressError extends Error {}

/**
 * The address a delivery to `url` connects to: the literal, or the first resolved address, after
 * checking that EVERY resolved address is allowed (a name with one private answer among public
 * ones is refused: which one a client would pick is not ours to predict).
 */
export async function checkedAddress(url: URL, opts: GuardOptions, resolve: Resolver): Promise<{ address: string; family: 4 | 6 }> {
  const host = bareHost(url);
  const literal = isIP(host);
  const addresses: LookupAddress[] = literal ? [{ address: host, family: literal }] : await resolve(host);
  if (addresses.length === 0) throw new RefusedAddressError(`${host} resolves to no address`);
  for (const a of addresses) {
    const why = refusedAddress(a.address, opts);
    if (why) throw new RefusedAddressError(literal ? why : `${host} resolves to ${why}`);
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
