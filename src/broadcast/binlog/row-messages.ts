import { BINLOG_ROOM_PREFIX } from '../hub/frames.js';
import type { RawBinlogEvent } from './binlog.reader.js';
import { QUALIFIED_NAME, roomOf, roomPart, unquote } from './identifiers.js';

export { roomOf } from './identifiers.js';

/** Where a change sits in the binlog: the file, the end offset of its event, and the row's index in that event. */
export interface BinlogPosition {
  file: string;
  pos: number;
  row: number;
  gtid?: string;
}

export interface RowChange {
  op: 'insert' | 'update' | 'delete' | 'truncate';
  schema: string;
  table: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  /**
   * Set when a row image lacks columns (a session with binlog_row_image MINIMAL or NOBLOB): those are left out of
   * `before`/`after`, never given as null, which a reader would take for data.
   */
  partial?: true;
  ts: number;
  position: BinlogPosition;
}

/** A position as text that sorts like the position (for the Redis dedupe check). */
export function sortablePosition(position: BinlogPosition): string {
  return `${position.file}:${String(position.pos).padStart(15, '0')}:${String(position.row).padStart(6, '0')}`;
}

/** Orders positions: binlog file names carry a zero-padded sequence number, so they sort as text. */
export function comparePositions(a: Omit<BinlogPosition, 'gtid'>, b: Omit<BinlogPosition, 'gtid'>): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.pos !== b.pos) return a.pos - b.pos;
  return a.row - b.row;
}

/**
 * Why a rotate to `next` cannot be right, or null: binlog names are a base, a dot and 6+ digits
 * (`binlog.000013`), and a stream never goes to an earlier file than `current`.
 */
export function refusedRotate(current: string, next: string): string | null {
  const name = /^(.+)\.(\d{6,})$/;
  const [, base, number] = name.exec(next) ?? [];
  const [, currentBase, currentNumber] = name.exec(current) ?? [];
  if (!base || (current && (base !== currentBase || Number(number) < Number(currentNumber)))) {
    return `binlog rotate to "${next}" (reading ${current || 'from the start'}) is not a binlog file after this one: misread (binlog_checksum changed?), reading again`;
  }
  return null;
}

const ROW_OPS: Record<string, RowChange['op']> = { writerows: 'insert', updaterows: 'update', deleterows: 'delete' };

/** The row changes carried by one row event (several rows for a multi-row statement). */
export function rowChanges(event: RawBinlogEvent, file: string): RowChange[] {
  const op = ROW_OPS[event.getEventName()];
  const table = event.tableMap?.[event.tableId!];
  if (!op || !table) return [];
  // zongji gives a column the row image lacks as null: the event's bitmaps say which are there (the second is an update's after image).
  const lacking = lackingColumns(table.columns ?? [], event.columns_present_bitmap);
  const lackingAfter = op === 'update' ? lackingColumns(table.columns ?? [], event.columns_present_bitmap2) : lacking;
  return (event.rows ?? []).map((row, index) => {
    const values = row as Record<string, unknown> & { before?: Record<string, unknown>; after?: Record<string, unknown> };
    const before = op === 'insert' ? null : plain(op === 'update' ? values.before! : values, lacking);
    const after = op === 'delete' ? null : plain(op === 'update' ? values.after! : values, lackingAfter);
    const partial = (before && lacking.size) || (after && lackingAfter.size) ? { partial: true as const } : {};
    return { op, schema: table.parentSchema, table: table.tableName, before, after, ...partial, ts: event.timestamp, position: position(event, file, index) };
  });
}

const TRUNCATE = new RegExp(`^TRUNCATE\\s+(?:TABLE\\s+)?${QUALIFIED_NAME}\\s*;?\\s*$`, 'i');

/** `TRUNCATE [TABLE] [schema.]table` as a change of its own (the binlog has no row events for it). */
export function truncateChange(event: RawBinlogEvent, file: string): RowChange | null {
  const match = TRUNCATE.exec(withoutLeadingComments(event.query ?? ''));
  if (!match) return null;
  const schema = match[1] ? unquote(match[1]) : (event.schema ?? '');
  return { op: 'truncate', schema, table: unquote(match[2]), before: null, after: null, ts: event.timestamp, position: position(event, file, 0) };
}

/** A data-changing statement logged as a statement (binlog_format STATEMENT or MIXED); `table` null when it cannot be told. */
export interface RowStatement {
  op: string;
  schema: string;
  table: string | null;
}

const STATEMENT_TABLE: RegExp[] = [
  new RegExp(`^(?:INSERT|REPLACE)\\s+(?:(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE)\\s+)*(?:INTO\\s+)?${QUALIFIED_NAME}`, 'i'),
  new RegExp(`^UPDATE\\s+(?:(?:LOW_PRIORITY|IGNORE)\\s+)*${QUALIFIED_NAME}`, 'i'),
  new RegExp(`^DELETE\\s+(?:(?:LOW_PRIORITY|QUICK|IGNORE)\\s+)*FROM\\s+${QUALIFIED_NAME}`, 'i'),
];

/** INSERT / REPLACE / UPDATE / DELETE / LOAD DATA in a QUERY event: in ROW format these never appear, so one means a change was not logged as rows. */
export function rowStatement(event: RawBinlogEvent): RowStatement | null {
  const text = withoutLeadingComments(event.query ?? '');
  const verb = /^(INSERT|REPLACE|UPDATE|DELETE|LOAD\s+DATA)\b/i.exec(text);
  if (!verb) return null;
  const op = verb[1].toLowerCase().replace(/\s+/, ' ');
  for (const pattern of STATEMENT_TABLE) {
    const match = pattern.exec(text);
    if (match && !/^(SELECT|SET|VALUES?)$/i.test(match[2])) return { op, schema: match[1] ? unquote(match[1]) : (event.schema ?? ''), table: unquote(match[2]) };
  }
  return { op, schema: event.schema ?? '', table: null };
}

/** The rooms a lost statement may concern: its table's, or every known room of its schema. */
export function statementRooms(statement: RowStatement, known: Iterable<string>): string[] {
  if (statement.table) return [roomOf(statement.schema, statement.table)];
  const prefix = `${BINLOG_ROOM_PREFIX}${roomPart(statement.schema)}.`;
  return [...known].filter((room) => room.startsWith(prefix));
}

function withoutLeadingComments(query: string): string {
  return query.replace(/^(?:\s|\/\*[\s\S]*?\*\/)+/, '');
}

function position(event: RawBinlogEvent, file: string, row: number): BinlogPosition {
  return { file, pos: event.nextPosition, row, ...(event.gtid ? { gtid: event.gtid } : {}) };
}

/** The columns a row image lacks: a 0 in `present`, one bit per column in table order. */
function lackingColumns(columns: { name: string }[], present: Buffer | undefined): Set<string> {
  return new Set(present ? columns.filter((_, index) => !(present[index >> 3] & (1 << (index & 7)))).map((column) => column.name) : []);
}

function plain(row: Record<string, unknown>, lacking: Set<string>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) if (!lacking.has(column)) result[column] = Buffer.isBuffer(value) ? value.toString('base64') : value;
  return result;
}
