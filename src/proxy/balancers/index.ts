import type { BalancerName } from '../policy.js';
import type { Balancer } from './balancer.js';
import { ipHash } from './ip-hash.js';
import { leastLoad } from './least-load.js';
import { random } from './random.js';
import { urlHash } from './url-hash.js';

export type { Balancer, BalanceRequest, Target } from './balancer.js';

export const BALANCER: Record<BalancerName, Balancer> = {
  random,
  'ip-hash': ipHash,
  'url-hash': urlHash,
  'least-load': leastLoad,
};
