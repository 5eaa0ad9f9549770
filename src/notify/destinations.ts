import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';
import { z } from 'zod';

/**
 * Addresses no channel made through the API may reach: this host and the networks behind it. Any signed-in
 * person may make a webhook channel, and dozen POSTs to it from inside those networks: without this, a
 * viewer could make it call Docker's API on 127.0.0.1:2375 or a cloud's metadata service.
 */
const INTERNAL: [address: string, prefix: number, family: 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this network"
  ['10.0.0.0', 8, 'ipv4'], // private (RFC 1918)
  ['100.64.0.0', 10, 'ipv4'], // shared address space (RFC 6598); Alibaba Cloud's metadata service is 100.100.100.200
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['169.254.0.0', 16, 'ipv4'], // link-local; most clouds' metadata service is 169.254.169.254
  ['172.16.0.0', 12, 'ipv4'], // private
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.168.0.0', 16, 'ipv4'], // private
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['224.0.0.0', 3, 'ipv4'], // multicast, reserved, broadcast
  ['::', 96, 'ipv6'], // unspecified, loopback, IPv4-compatible (IPv4-mapped ones are checked as IPv4)
  ['64:ff9b:1::', 48, 'ipv6'], // local-use NAT64 (RFC 8215): where the IPv4 address sits is the network's choice
  ['2001::', 32, 'ipv6'], // Teredo: tunnels to an (obfuscated) IPv4 address
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['ff00::', 8, 'ipv6'], // multicast
];

/** The code of the error a connection to an internal address fails with: given up at once, not retried. */
export const INTERNAL_ADDRESS = 'EDOZENINTERNAL';

/** One entry of `notify.allowPrivateTargets`: an address or a CIDR block. */
export const targetRange = z.string().refine((value) => rangeOf(value) !== null, 'expected an IP address or a CIDR block (10.0.0.0/8, fd00::/8)');

function rangeOf(value: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | null {
  const [address, prefixText, extra] = value.split('/');
  const version = isIP(address);
  if (version === 0 || extra !== undefined) return null;
  const bits = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (!/^\d+$/.test(prefixText ?? '0') || prefix > bits) return null;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Where channels made through the API (the team's and each person's) may send: public addresses, and the
 * internal ones `notify.allowPrivateTargets` lists. Checked when a channel is made or changed (`refusal`,
 * for a clear 400) and again at every connection (`dispatcher`): its DNS lookup refuses a name that
 * resolves to an internal address, and the connection goes to the address it checked, so a name cannot
 * resolve to a public address for the check and to an internal one for the POST. Redirects are not followed.
 */
export class ChannelDestinations {
  private readonly internal = new BlockList();
  private readonly allowed = new BlockList();
  /** undici's dispatcher for those channels' requests. */
  readonly dispatcher: Agent;

  constructor(allowPrivateTargets: readonly string[]) {
    for (const [address, prefix, family] of INTERNAL) this.internal.addSubnet(address, prefix, family);
    for (const entry of allowPrivateTargets) {
      const range = rangeOf(entry)!;
      this.allowed.addSubnet(range.address, range.prefix, range.family);
    }
    this.dispatcher = new Agent({ connect: { lookup: this.checkedLookup } });
  }

  /** Why `url` may not be sent to, or null when it may (a name that does not resolve now is checked again at each send). */
  async refusal(url: string): Promise<string | null> {
    const host = hostOf(url);
    if (isIP(host)) return this.literalRefusal(url);
    const addresses = await new Promise<LookupAddress[]>((resolve) => lookup(host, { all: true }, (error, found) => resolve(error ? [] : found)));
    const internal = addresses.find((entry) => this.isInternal(entry.address));
    return internal ? refused(host, internal.address) : null;
  }

  /** Why a URL whose host is an IP address may not be sent to: connections to those do no lookup to check. */
  literalRefusal(url: string): string | null {
    const host = hostOf(url);
    return isIP(host) && this.isInternal(host) ? refused(host, host) : null;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private isInternal(address: string): boolean {
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (this.allowed.check(address, family)) return false;
    const embedded = family === 'ipv6' ? embeddedIpv4(address) : null;
    return embedded ? this.isInternal(embedded) : this.internal.check(address, family);
  }

  /** dns.lookup, refusing the whole name when any of its addresses is internal. */
  private readonly checkedLookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const internal = addresses.find((entry) => this.isInternal(entry.address));
      if (internal) return callback(Object.assign(new Error(refused(hostname, internal.address)), { code: INTERNAL_ADDRESS }), []);
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

/**
 * The IPv4 address an IPv6 address of the well-known NAT64 prefix (64:ff9b::/96, RFC 6052) or of 6to4
 * (2002::/16, RFC 3056) reaches, or null. A NAT64 gateway or a 6to4 relay sends such packets on to that
 * address, so `64:ff9b::7f00:1` is 127.0.0.1 on a host behind NAT64. Checked as that address rather than
 * refused whole: on an IPv6-only host with DNS64 every IPv4-only webhook receiver resolves into 64:ff9b::/96.
 */
export function embeddedIpv4(address: string): string | null {
  const text = address.replace(/%.*$/, '');
  if (isIP(text) !== 6) return null;
  const words = ipaddr.IPv6.parse(text).parts;
  const quad = (high: number, low: number) => [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
  if (words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((word) => word === 0)) return quad(words[6], words[7]);
  if (words[0] === 0x2002) return quad(words[1], words[2]);
  return null;
}

function hostOf(url: string): string {
  return new URL(url).hostname.replace(/^\[|\]$/g, '');
}

function refused(host: string, address: string): string {
  const which = host === address ? host : `${host} (${address})`;
  return `${which} is an internal address (loopback, private, link-local or reserved); notify.allowPrivateTargets in the config may allow it`;
}
