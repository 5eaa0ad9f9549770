import { z } from 'zod';

export const deployConfig = z
  .strictObject({
    docker: z
      .strictObject({
        /** The Docker Engine API socket this host's agent drives. */
        socketPath: z.string().min(1).default('/var/run/docker.sock'),
      })
      .default({ socketPath: '/var/run/docker.sock' }),
  })
  .default({ docker: { socketPath: '/var/run/docker.sock' } });
