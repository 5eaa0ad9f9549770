import { z } from 'zod';

/**
 * A secret config value (token, key, password). It may be given inline, or as a
 * path to a file holding it (`<key>File` in YAML, `DOZEN_<KEY>_FILE` in env),
 * and it is never printed: `redact` replaces it wherever the config is shown.
 */
export const secret = () => z.string().min(1, 'must not be empty').meta({ secret: true });

export function isSecret(schema: z.ZodType): boolean {
  return Boolean(unwrap(schema).meta()?.secret ?? schema.meta()?.secret);
}

/** Strips optional/default/nullable/transform wrappers to reach the schema that says what a value is. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    const def = (current as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } })._zod.def;
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) {
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      current = def.in;
    } else {
      return current;
    }
  }
}
