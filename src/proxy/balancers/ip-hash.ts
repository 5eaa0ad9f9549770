import { rendezvous, type Balancer } from './balancer.js';

/** The same client IP lands on the same backend while it stays healthy (sticky sessions without cookies). */
export const ipHash: Balancer = (targets, request, skip) => rendezvous(targets, request.clientIp, skip);
