/**
 * The scopes an API token may carry. Each names what it grants; an alias
 * stands for several (`storage` is read and write). The list is fixed here,
 * not gathered from the modules running on this host, so a token made on one
 * host means the same on every host sharing the database.
 */
export const SCOPES = {
  'storage:read': 'GET/HEAD objects and listings under /storage',
  'storage:write': 'PUT/POST/DELETE objects and resumable uploads under /storage',
} as const;

export type Scope = keyof typeof SCOPES;

const ALIASES: Record<string, readonly Scope[]> = {
  storage: ['storage:read', 'storage:write'],
};

/** Every name a token may be created with: the scopes and their aliases. */
export const SCOPE_NAMES: readonly string[] = [...Object.keys(SCOPES), ...Object.keys(ALIASES)].sort();

/** The scopes a token's stored names grant, aliases expanded. */
export function expandScopes(names: readonly string[]): Scope[] {
  const granted = new Set<Scope>();
  for (const name of names) {
    if (name in SCOPES) granted.add(name as Scope);
    for (const scope of ALIASES[name] ?? []) granted.add(scope);
  }
  return [...granted].sort();
}
