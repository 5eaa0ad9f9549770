import type { RowStatement } from './row-messages.js';

/** The server's own schemas: grants, statistics, its internals; never row changes an app acts on. */
export const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** zongji's schema filter: schema -> true (all its tables) or a list of tables. */
export type SchemaFilter = Record<string, string[] | true>;

/**
 * Which tables the binlog source publishes: those `include` names (all when empty) but not those
 * `exclude` names (`shop` or `shop.orders`; exclude wins). Never, whatever both say, the server's
 * system schemas and dozen's own database when it lives on a MySQL server (`database.url`): its
 * users' password hashes, sessions and tokens would go to whoever may read `db.*` rooms, and every
 * save of the rooms' own history would come back as row changes, to be published and saved again.
 */
export class SchemaSelection {
  /** What is never published, whatever include says; dozen's own schema last. */
  readonly neverPublished: string[];
  private readonly exclude: string[];

  constructor(
    private readonly include: string[],
    exclude: string[],
    databaseUrl: string | undefined,
  ) {
    const own = databaseUrl ? decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) : '';
    this.neverPublished = own ? [...SYSTEM_SCHEMAS, own] : SYSTEM_SCHEMAS;
    this.exclude = [...new Set([...exclude, ...this.neverPublished])];
  }

  /** For zongji: the schemas and tables to read (undefined: all). */
  get includeFilter(): SchemaFilter | undefined {
    return schemaFilter(this.include);
  }

  /** For zongji: the schemas and tables to skip; wins over the include filter. */
  get excludeFilter(): SchemaFilter | undefined {
    return schemaFilter(this.exclude);
  }

  /** Whether a change of `schema.table` is published (for events zongji does not filter, such as TRUNCATE). */
  passes(schema: string, table: string): boolean {
    const matches = (entry: string) => entry === schema || entry === `${schema}.${table}`;
    if (this.exclude.some(matches)) return false;
    return !this.include.length || this.include.some(matches);
  }

  /** Whether a data-changing statement touches what is published (one whose table is unknown counts for its schema). */
  concerns(statement: RowStatement): boolean {
    if (statement.table) return this.passes(statement.schema, statement.table);
    if (this.exclude.includes(statement.schema)) return false;
    return !this.include.length || this.include.some((entry) => entry === statement.schema || entry.startsWith(`${statement.schema}.`));
  }
}

/** include/exclude entries (`shop` or `shop.orders`) as zongji's schema filter. */
export function schemaFilter(entries: string[]): SchemaFilter | undefined {
  if (!entries.length) return undefined;
  const filter: SchemaFilter = {};
  for (const entry of entries) {
    const [schema, table] = entry.split('.', 2);
    if (!table) filter[schema] = true;
    else if (filter[schema] !== true) filter[schema] = [...((filter[schema] as string[] | undefined) ?? []), table];
  }
  return filter;
}
