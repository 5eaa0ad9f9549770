import { randomIndex, type Balancer } from './balancer.js';

/** Every healthy backend equally likely. */
export const random: Balancer = (targets, _request, skip) => randomIndex(targets.length, skip);
