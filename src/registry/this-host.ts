import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

/** Addresses that reach this host whatever its interfaces: 127.0.0.0/8, ::1, and the any-addresses 0.0.0.0 and ::. */
const ALWAYS_HERE = new BlockList();
ALWAYS_HERE.addSubnet('127.0.0.0', 8, 'ipv4');
ALWAYS_HERE.addAddress('0.0.0.0', 'ipv4');
ALWAYS_HERE.addAddress('::1', 'ipv6');
ALWAYS_HERE.addAddress('::', 'ipv6');

/**
 * The IP addresses a registered address reaches, as the proxy's connect would: an IP in any spelling
 * getaddrinfo takes (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`, `[::ffff:7f00:1]`) in its
 * canonical form (the WHATWG URL host parser reads them as inet_aton does), a host name resolved now
 * (`localhost.localdomain`, the machine's own name). A name that does not resolve reaches nothing yet.
 */
export async function addressesOf(address: string): Promise<string[]> {
  const bare = address.replace(/^\[|\]$/g, '');
  let canonical = bare;
  try {
    canonical = new URL(`http://${isIP(bare) === 6 ? `[${bare}]` : bare}/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return [];
  }
  if (isIP(canonical)) return [unmapped(canonical)];
  const found = await lookup(canonical, { all: true }).catch(() => []);
  return found.map((entry) => unmapped(entry.address));
}

/** Whether `ip` (canonical) is this host's: loopback, an any-address, `hostAddress`, or an address of one of its interfaces. */
export function isThisHost(ip: string, hostAddress: string): boolean {
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  if (ALWAYS_HERE.check(ip, family) || ip === hostAddress) return true;
  return Object.values(networkInterfaces()).some((entries) => entries?.some((entry) => entry.address === ip));
}

/** `::ffff:7f00:1` → `127.0.0.1`: an IPv4-mapped IPv6 address reaches the IPv4 one. */
function unmapped(ip: string): string {
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (!mapped) return ip.replace(/^::ffff:(?=\d+\.)/i, '');
  const high = parseInt(mapped[1], 16);
  const low = parseInt(mapped[2], 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}
