import { BlockList, isIPv6 } from 'node:net';

/**
 * Who the client is. The socket's peer, unless the peer is a trusted proxy
 * (`proxy.trustedProxies`): then X-Forwarded-For is read from the right,
 * passing over trusted hops, and the first address not trusted is the client
 * (entries left of it could be forged by that client, so they are ignored).
 */
export class ClientAddress {
  private readonly trusted: BlockList | null;

  constructor(trustedProxies: readonly string[]) {
    if (!trustedProxies.length) {
      this.trusted = null;
      return;
    }
    this.trusted = new BlockList();
    for (const entry of trustedProxies) {
      const [address, bits] = entry.split('/');
      const type = isIPv6(address) ? 'ipv6' : 'ipv4';
      if (bits === undefined) this.trusted.addAddress(address, type);
      else this.trusted.addSubnet(address, Number(bits), type);
    }
  }

  isTrusted(address: string): boolean {
    if (!this.trusted) return false;
    const plain = unmapped(address);
    return this.trusted.check(plain, isIPv6(plain) ? 'ipv6' : 'ipv4');
  }

  /** The client IP for `peer` (the socket's remote address) and the X-Forwarded-For value it sent. */
  resolve(peer: string | undefined, forwardedFor: string | string[] | undefined): string {
    const address = unmapped(peer ?? '');
    if (!this.trusted || !forwardedFor || !this.isTrusted(address)) return address;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map((hop) => hop.trim()).filter(Boolean);
    for (let index = hops.length - 1; index >= 0; index--) {
      if (!this.isTrusted(hops[index])) return unmapped(hops[index]);
    }
    return hops.length ? unmapped(hops[0]) : address;
  }
}

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) -> `10.0.0.1`. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
