/**
 * Who is the caller? APIM uses the socket peer (context.Request.IpAddress) and ignores
 * X-Forwarded-For (apim-semantics.md §6.1). gatehouse does the same by default. The opt-in
 * `trustedProxies` overlay setting (a gatehouse extension) lets a gateway behind a load balancer
 * take the caller from X-Forwarded-For, but only when the socket peer is one of those proxies.
 *
 * The HTTP layer calls {@link resolveCallerIp} once per request and stores the answer in
 * GatewayRequest.ipAddress; policies never read X-Forwarded-For themselves. See docs/ip-filter.md.
 */
import { formatIp, IpRangeSet, parseIp, type IpRange, type IpValue } from './ip-set.ts';

/** The compiled trustedProxies list. Build it once at load with {@link compileTrustedProxies}. */
export interface TrustedProxies {
  /** True when no proxy is trusted: resolveCallerIp then returns the socket address untouched. */
  readonly empty: boolean;
  has(ip: IpValue): boolean;
}

/** No trusted proxies: APIM's behaviour. */
export const NO_TRUSTED_PROXIES: TrustedProxies = { empty: true, has: () => false };

export interface CompiledTrustedProxies {
  readonly proxies: TrustedProxies;
  /** Entries that are not an address, a CIDR block or an `a-b` range, as written. */
  readonly invalid: readonly string[];
}

/**
 * Compiles the overlay's `trustedProxies` list. Each entry is an IPv4/IPv6 address
 * (`10.0.0.5`), a CIDR block (`10.0.0.0/8`, `fd00::/8`; host bits are ignored) or an inclusive
 * range (`10.0.0.1-10.0.0.9`). The config loader reports `invalid` entries (GH_CONFIG_OVERLAY_INVALID).
 */
export function compileTrustedProxies(entries: readonly string[]): CompiledTrustedProxies {
  const ranges: IpRange[] = [];
  const invalid: string[] = [];
  for (const raw of entries) {
    const range = parseProxyEntry(raw.trim());
    if (range === undefined) invalid.push(raw);
    else ranges.push(range);
  }
  if (ranges.length === 0) return { proxies: NO_TRUSTED_PROXIES, invalid };
  const set = IpRangeSet.build(ranges);
  return { proxies: { empty: false, has: (ip) => set.has(ip) }, invalid };
}

/**
 * The caller's address for GatewayRequest.ipAddress.
 *
 * - No trusted proxies, or the socket peer is not one of them: the socket address, as is
 *   (a client can never choose its own address by sending X-Forwarded-For).
 * - Otherwise X-Forwarded-For (all field lines, in order, joined by `,`) is read from the right:
 *   trusted proxies are skipped and the first address that is not a trusted proxy is the caller
 *   (the right-most untrusted address). If every listed address is trusted, the left-most one is
 *   the caller. If the header is absent or lists nothing, the socket address is the caller.
 * - An IPv4-mapped IPv6 entry (`::ffff:a.b.c.d`, `::ffff:7f00:1`) is returned as the IPv4
 *   address, as the HTTP layer does for the socket peer.
 * - A listed entry that is not an IP address (`unknown`, garbage) before an untrusted address
 *   is found returns `''`: the caller cannot be established, so ip-filter answers
 *   FailedToParseCallerIP. Entries may carry a port (`1.2.3.4:5678`, `[2001:db8::1]:443`); it is
 *   dropped.
 *
 * Pure and synchronous; it allocates only when the peer is a trusted proxy.
 */
export function resolveCallerIp(
  socketAddress: string,
  xForwardedFor: string | readonly string[] | undefined,
  trustedProxies: TrustedProxies,
): string {
  if (trustedProxies.empty || xForwardedFor === undefined) return socketAddress;
  const peer = parseIp(socketAddress);
  if (peer === undefined || !trustedProxies.has(peer)) return socketAddress;
  const list = typeof xForwardedFor === 'string' ? xForwardedFor : xForwardedFor.join(',');
  let leftmost: string | undefined;
  let end = list.length;
  for (;;) {
    const start = end === 0 ? -1 : list.lastIndexOf(',', end - 1);
    const entry = list.slice(start + 1, end).trim();
    if (entry !== '') {
      const address = withoutPort(entry);
      const ip = parseIp(address);
      if (ip === undefined) return '';
      // An IPv4-mapped entry (`::ffff:203.0.113.7`, written by a proxy on a dual-stack socket) is
      // returned as IPv4, the form the HTTP layer gives a mapped socket peer: one caller, one
      // spelling, in LastError, logs and the X-Forwarded-For sent on.
      const caller = typeof ip === 'number' && address.includes(':') ? formatIp(ip) : address;
      if (!trustedProxies.has(ip)) return caller;
      leftmost = caller;
    }
    if (start === -1) break;
    end = start;
  }
  return leftmost ?? socketAddress;
}

/** `[v6]:port` → `v6`, `[v6]` → `v6`, `a.b.c.d:port` → `a.b.c.d`; anything else unchanged. */
function withoutPort(entry: string): string {
  if (entry.charCodeAt(0) === 91 /* [ */) {
    const close = entry.indexOf(']');
    if (close === -1) return entry;
    const rest = entry.slice(close + 1);
    return rest === '' || /^:\d{1,5}$/.test(rest) ? entry.slice(1, close) : entry;
  }
  const colon = entry.indexOf(':');
  if (colon !== -1 && colon === entry.lastIndexOf(':') && /^:\d{1,5}$/.test(entry.slice(colon))) return entry.slice(0, colon);
  return entry;
}

function parseProxyEntry(entry: string): IpRange | undefined {
  const slash = entry.indexOf('/');
  if (slash !== -1) return parseCidr(entry.slice(0, slash), entry.slice(slash + 1));
  const dash = entry.indexOf('-');
  if (dash !== -1) {
    const from = parseIp(entry.slice(0, dash).trim());
    const to = parseIp(entry.slice(dash + 1).trim());
    if (from === undefined || to === undefined || typeof from !== typeof to || from > to) return undefined;
    return { from, to };
  }
  const ip = parseIp(entry);
  return ip === undefined ? undefined : { from: ip, to: ip };
}

function parseCidr(addressText: string, prefixText: string): IpRange | undefined {
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const parsed = parseIp(addressText);
  if (parsed === undefined || addressText.includes('%')) return undefined;
  // parseIp folds IPv4-mapped IPv6 to IPv4; a CIDR written in IPv6 text keeps its 128-bit meaning.
  const written6 = addressText.includes(':');
  if (!written6 && typeof parsed === 'number') {
    if (prefix > 32) return undefined;
    const size = 2 ** (32 - prefix);
    const from = Math.floor(parsed / size) * size;
    return { from, to: from + size - 1 };
  }
  if (prefix > 128) return undefined;
  const value = typeof parsed === 'number' ? (0xffffn << 32n) | BigInt(parsed) : parsed;
  const hostBits = BigInt(128 - prefix);
  const from = (value >> hostBits) << hostBits;
  return { from, to: from | ((1n << hostBits) - 1n) };
}
