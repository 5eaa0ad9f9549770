import { BINLOG_ROOM_PREFIX } from '../hub/frames.js';

/**
 * One MySQL identifier as a statement spells it: backquoted (`` `order-items` ``, a doubled backquote inside),
 * double-quoted (ANSI_QUOTES; without it such a statement fails and is never logged), or bare: ASCII letters,
 * digits, `_`, `$` and U+0080 and up (`café`, `t$1`).
 */
const IDENTIFIER = '(`(?:[^`]|``)+`|"(?:[^"]|"")+"|[0-9A-Za-z_$\\u0080-\\uffff]+)';

/** `[schema.]table`: groups 1 (schema, may be missing) and 2 (table), still quoted; see `unquote`. */
export const QUALIFIED_NAME = `(?:${IDENTIFIER}\\s*\\.\\s*)?${IDENTIFIER}`;

export function unquote(identifier: string): string {
  const quote = identifier[0];
  if (quote !== '`' && quote !== '"') return identifier;
  return identifier.slice(1, -1).replaceAll(quote + quote, quote);
}

/** What a table's room keeps of a name as it is: a client can join it (see ROOM_NAME), and `.` stays the separator. */
const KEPT = /[A-Za-z0-9_:@$\p{L}\p{M}\p{N}-]/u;

/**
 * `db.<schema>.<table>`, each name as it is when it is made of letters (any script), digits, marks and `_ $ - : @`
 * (every table named so far keeps its room); any other character (`.`, `%`, a space …) is written as `%XX` per
 * UTF-8 byte, so every legal name gets a room a client can join and two tables never share one.
 */
export function roomOf(schema: string, table: string): string {
  return `${BINLOG_ROOM_PREFIX}${roomPart(schema)}.${roomPart(table)}`;
}

export function roomPart(name: string): string {
  let part = '';
  for (const character of name) {
    part += KEPT.test(character) ? character : [...Buffer.from(character)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join('');
  }
  return part;
}
