import type { ValueTransformer } from 'typeorm';

/** Times in ms since epoch kept as BIGINT: MySQL hands BIGINT back as a string; NULL stays null. */
export const millis: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};
