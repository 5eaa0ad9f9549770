import { rendezvous, type Balancer } from './balancer.js';

/** The same path lands on the same backend, so each backend's cache holds a share of the URLs. */
export const urlHash: Balancer = (targets, request, skip) => rendezvous(targets, request.path, skip);
