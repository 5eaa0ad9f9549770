import { z } from 'zod';

/** Users, sessions and login limits (the access module is always on). Times may be fractions, so tests can use short ones. */
export const accessConfig = z
  .strictObject({
    session: z
      .strictObject({
        /** A session unused this long ends. */
        idleMinutes: z.number().positive().default(30),
        /** A session ends this long after login, however busy. */
        absoluteHours: z.number().positive().default(12),
      })
      .prefault({}),
    /**
     * How often the caller of every open WebSocket (GraphQL subscriptions, the broadcast hub) is checked
     * again: changes made on another host, sessions that idled or aged out, tokens that expired. Changes
     * made on this host close the sockets at once.
     */
    socketRecheckSeconds: z.number().positive().default(30),
    login: z
      .strictObject({
        /** Failed logins for one user name in a row before it is locked out for `lockoutSeconds`. */
        maxFailuresPerUser: z.number().int().min(1).default(5),
        /** Failed logins from one client address in a row before it is locked out for `lockoutSeconds`. */
        maxFailuresPerAddress: z.number().int().min(1).default(20),
        /** How long a lockout lasts; then the counter starts again from zero. */
        lockoutSeconds: z.number().positive().default(300),
      })
      .prefault({}),
  })
  .prefault({});
