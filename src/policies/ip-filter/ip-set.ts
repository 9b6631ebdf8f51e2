/**
 * IP addresses as numbers, and a set of address ranges that answers membership in O(log n).
 *
 * Why not `net.BlockList`: it handles IPv4-mapped IPv6 correctly (checked on Node 20.20), but its
 * `check` walks every rule in turn (linear in the number of rules) and crosses into C++ with a
 * fresh SocketAddress per call. Here rules are merged and sorted once at load, and a lookup is a
 * binary search over typed arrays. The tests use BlockList as an independent oracle.
 */
import { isIP } from 'node:net';

/**
 * A parsed address: a `number` for IPv4 (0 … 2³²−1) or a `bigint` for IPv6 (0 … 2¹²⁸−1).
 * `typeof` tells the family apart, so a parse allocates no wrapper object.
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`, `::ffff:7f00:1`) is returned as the IPv4 number: one
 * address, one canonical value, so IPv4 rules match mapped callers and vice versa.
 */
export type IpValue = number | bigint;

/** An inclusive range of one family (both ends numbers, or both bigints). */
export interface IpRange {
  readonly from: IpValue;
  readonly to: IpValue;
}

const MAPPED_PREFIX = 0xffffn; // ::ffff:0:0/96 shifted right by 32 bits
const MAPPED_FIRST = 0xffffn << 32n;
const MAPPED_LAST = MAPPED_FIRST | 0xffffffffn;
const V6_MAX = (1n << 128n) - 1n;

/**
 * Parses an IPv4 or IPv6 address in the textual forms `net.isIP` accepts (dotted quad without
 * leading zeros; RFC 4291 text with `::`, an embedded dotted quad, and an optional `%zone`, which
 * is ignored). Returns undefined for anything else: brackets, ports, CIDR suffixes, whitespace.
 */
export function parseIp(text: string): IpValue | undefined {
  // isIP is the validator (native, strict); the converters below trust its verdict.
  const family = isIP(text);
  if (family === 4) return ipv4ToNumber(text);
  if (family !== 6) return undefined;
  const zone = text.indexOf('%');
  const value = ipv6ToBigInt(zone === -1 ? text : text.slice(0, zone));
  return value >> 32n === MAPPED_PREFIX ? Number(value & 0xffffffffn) : value;
}

/** Dotted quad (already validated) → unsigned 32-bit number, without allocating. */
function ipv4ToNumber(text: string): number {
  let value = 0;
  let part = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      value = value * 256 + part;
      part = 0;
    } else {
      part = part * 10 + (c - 48);
    }
  }
  return value * 256 + part;
}

/** RFC 4291 text (already validated, no zone) → 128-bit bigint. */
function ipv6ToBigInt(text: string): bigint {
  const gap = text.indexOf('::');
  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? '' : text.slice(gap + 2);
  const headWords = words(head);
  const tailWords = words(tail);
  let value = 0n;
  for (const w of headWords) value = (value << 16n) | BigInt(w);
  for (let i = headWords.length + tailWords.length; i < 8; i++) value <<= 16n;
  for (const w of tailWords) value = (value << 16n) | BigInt(w);
  return value;
}

function words(part: string): number[] {
  if (part === '') return [];
  const out: number[] = [];
  for (const group of part.split(':')) {
    if (group.includes('.')) {
      const v4 = ipv4ToNumber(group);
      out.push(Math.floor(v4 / 65536), v4 % 65536);
    } else {
      out.push(parseInt(group, 16));
    }
  }
  return out;
}

/** The address in its usual text form, for messages and tests (IPv6 without `::` compression). */
export function formatIp(value: IpValue): string {
  if (typeof value === 'number') return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(((value >> shift) & 0xffffn).toString(16));
  return groups.join(':');
}

/**
 * An immutable set of address ranges. Built once; `has` is a binary search over merged,
 * sorted, disjoint ranges (IPv4 in Uint32Arrays, IPv6 in bigint arrays).
 */
export class IpRangeSet {
  readonly #v4Starts: Uint32Array;
  readonly #v4Ends: Uint32Array;
  readonly #v6Starts: readonly bigint[];
  readonly #v6Ends: readonly bigint[];

  private constructor(v4: ReadonlyArray<readonly [number, number]>, v6: ReadonlyArray<readonly [bigint, bigint]>) {
    this.#v4Starts = Uint32Array.from(v4, (r) => r[0]);
    this.#v4Ends = Uint32Array.from(v4, (r) => r[1]);
    this.#v6Starts = v6.map((r) => r[0]);
    this.#v6Ends = v6.map((r) => r[1]);
  }

  /**
   * Builds the set. Each range must have both ends of one family with `from <= to` (the
   * parsers check this and report positions). An IPv6 range that overlaps the IPv4-mapped block
   * ::ffff:0:0/96 also contributes that part as an IPv4 range, because parseIp returns mapped
   * addresses as IPv4.
   */
  static build(ranges: readonly IpRange[]): IpRangeSet {
    const v4: Array<[number, number]> = [];
    const v6: Array<[bigint, bigint]> = [];
    for (const { from, to } of ranges) {
      if (typeof from === 'number' && typeof to === 'number') {
        if (!(from >= 0 && from <= to && to <= 0xffffffff)) throw new RangeError(`invalid IPv4 range ${from}-${to}`);
        v4.push([from, to]);
      } else if (typeof from === 'bigint' && typeof to === 'bigint') {
        if (!(from >= 0n && from <= to && to <= V6_MAX)) throw new RangeError(`invalid IPv6 range ${from}-${to}`);
        v6.push([from, to]);
        const lo = from > MAPPED_FIRST ? from : MAPPED_FIRST;
        const hi = to < MAPPED_LAST ? to : MAPPED_LAST;
        if (lo <= hi) v4.push([Number(lo - MAPPED_FIRST), Number(hi - MAPPED_FIRST)]);
      } else {
        throw new RangeError('an IP range must not mix IPv4 and IPv6 ends');
      }
    }
    return new IpRangeSet(merge(v4, 1), merge(v6, 1n));
  }

  /** Number of disjoint ranges after merging (IPv4, IPv6); for tests and diagnostics. */
  get rangeCounts(): { readonly v4: number; readonly v6: number } {
    return { v4: this.#v4Starts.length, v6: this.#v6Starts.length };
  }

  /** True when `ip` lies in one of the ranges. O(log n), no allocation for IPv4. */
  has(ip: IpValue): boolean {
    if (typeof ip === 'number') {
      const i = lastStartAtOrBelow(this.#v4Starts, ip);
      return i >= 0 && ip <= (this.#v4Ends[i] as number);
    }
    const i = lastStartAtOrBelow(this.#v6Starts, ip);
    return i >= 0 && ip <= (this.#v6Ends[i] as bigint);
  }
}

/** Sorts by start and merges overlapping or adjacent ranges. */
function merge<T extends number | bigint>(ranges: Array<[T, T]>, one: T): Array<[T, T]> {
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[T, T]> = [];
  for (const range of ranges) {
    const last = out[out.length - 1];
    // `+` on two values of one type T: number + number or bigint + bigint.
    if (last !== undefined && range[0] <= (last[1] as number) + (one as number)) {
      if (range[1] > last[1]) last[1] = range[1];
    } else {
      out.push([range[0], range[1]]);
    }
  }
  return out;
}

/** Index of the last start <= x, or -1. */
function lastStartAtOrBelow<T extends number | bigint>(starts: ArrayLike<T>, x: T): number {
  let lo = 0;
  let hi = starts.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((starts[mid] as T) <= x) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}
