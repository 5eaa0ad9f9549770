import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOM_NAME } from '../hub/frames.js';
import type { RawBinlogEvent } from './binlog.reader.js';
import { quoteAccount } from './binlog.reader.js';
import { comparePositions, roomOf, rowStatement, statementRooms, truncateChange } from './row-messages.js';
import { schemaFilter, SchemaSelection } from './schema-selection.js';
import { serverProblems } from './server-check.js';

const query = (text: string, schema = 'shop'): RawBinlogEvent => ({ getEventName: () => 'query', timestamp: 1, nextPosition: 99, query: text, schema });

describe('binlog row messages', () => {
  it('orders positions by file, then offset, then row', () => {
    assert.ok(comparePositions({ file: 'binlog.000001', pos: 900, row: 3 }, { file: 'binlog.000002', pos: 4, row: 0 }) < 0);
    assert.ok(comparePositions({ file: 'binlog.000002', pos: 10, row: 1 }, { file: 'binlog.000002', pos: 10, row: 0 }) > 0);
    assert.equal(comparePositions({ file: 'b.1', pos: 5, row: 0 }, { file: 'b.1', pos: 5, row: 0 }), 0);
  });

  it('reads TRUNCATE in its spellings and ignores other statements', () => {
    assert.deepEqual(
      [truncateChange(query('TRUNCATE TABLE orders'), 'f'), truncateChange(query('truncate `other`.`items`;'), 'f')].map((change) => [change?.schema, change?.table]),
      [['shop', 'orders'], ['other', 'items']],
    );
    assert.equal(truncateChange(query('ALTER TABLE orders ADD x INT'), 'f'), null);
  });

  it('reads quoted and Unicode names in TRUNCATE and gives every name a room a client can join', () => {
    const named = (text: string) => [truncateChange(query(text), 'f')?.schema, truncateChange(query(text), 'f')?.table];
    assert.deepEqual(named('TRUNCATE TABLE `order-items`'), ['shop', 'order-items']);
    assert.deepEqual(named('/* app */ TRUNCATE café'), ['shop', 'café']);
    assert.deepEqual(named('truncate crm . t$1 ;'), ['crm', 't$1']);
    assert.deepEqual(named('TRUNCATE `sh op`.`a``b.c`'), ['sh op', 'a`b.c']);
    assert.deepEqual(rowStatement(query('UPDATE `order-items` SET x = 1')), { op: 'update', schema: 'shop', table: 'order-items' });
    assert.equal(roomOf('shop', 'orders'), 'db.shop.orders');
    assert.equal(roomOf('shop', 'order-items'), 'db.shop.order-items');
    assert.equal(roomOf('shop', 'café'), 'db.shop.café');
    assert.equal(roomOf('shop', 't$1'), 'db.shop.t$1');
    assert.equal(roomOf('a.b', 'c'), 'db.a%2Eb.c', 'a dot in a name is no separator');
    assert.equal(roomOf('shop', 'a b%€'), 'db.shop.a%20b%25%E2%82%AC');
    for (const room of ['db.shop.café', 'db.shop.t$1', 'db.a%2Eb.c', 'db.shop.a%20b%25%E2%82%AC']) assert.match(room, ROOM_NAME);
    assert.doesNotMatch('db.shop.a b', ROOM_NAME);
  });

  it('tells data-changing statements (a binlog no longer in ROW format) and their table', () => {
    const seen = (text: string) => rowStatement(query(text));
    assert.deepEqual(seen("INSERT INTO orders (customer) VALUES ('a')"), { op: 'insert', schema: 'shop', table: 'orders' });
    assert.deepEqual(seen('/* app */ update low_priority `crm`.`people` set x = 1'), { op: 'update', schema: 'crm', table: 'people' });
    assert.deepEqual(seen('DELETE QUICK FROM items WHERE id = 1'), { op: 'delete', schema: 'shop', table: 'items' });
    assert.deepEqual(seen("REPLACE orders VALUES (1, 'a', 1)"), { op: 'replace', schema: 'shop', table: 'orders' });
    assert.deepEqual(seen('DELETE a FROM orders a JOIN items b ON a.id = b.id'), { op: 'delete', schema: 'shop', table: null });
    assert.equal(seen('BEGIN'), null);
    assert.equal(seen('CREATE TABLE orders (id INT)'), null);
    assert.ok(new SchemaSelection(['shop.orders'], [], undefined).concerns({ op: 'delete', schema: 'shop', table: null }), 'a table it cannot tell counts for its schema');
    assert.ok(!new SchemaSelection(['shop'], ['shop.audit'], undefined).concerns({ op: 'insert', schema: 'shop', table: 'audit' }));
    assert.deepEqual(statementRooms({ op: 'delete', schema: 'shop', table: null }, ['db.shop.orders', 'db.crm.people']), ['db.shop.orders']);
  });

  it('quotes the account the server matched for a GRANT', () => {
    assert.equal(quoteAccount('cdcbad@127.0.0.1'), "'cdcbad'@'127.0.0.1'");
    assert.equal(quoteAccount('we@ird@%'), "'we@ird'@'%'");
  });

  it('turns include/exclude entries into a schema filter and checks names against them', () => {
    assert.deepEqual(schemaFilter(['shop', 'crm.people', 'crm.deals']), { shop: true, crm: ['people', 'deals'] });
    assert.equal(schemaFilter([]), undefined);
    assert.ok(new SchemaSelection(['shop'], [], undefined).passes('shop', 'orders'));
    assert.ok(!new SchemaSelection(['shop'], ['shop.orders'], undefined).passes('shop', 'orders'));
    assert.ok(!new SchemaSelection(['shop'], [], undefined).passes('crm', 'people'));
  });

  it('never publishes dozen\'s own schema or the system schemas, whatever include says', () => {
    const selection = new SchemaSelection(['dozen', 'shop', 'mysql'], [], 'mysql://dozen@db:3306/dozen');
    assert.deepEqual(selection.neverPublished, ['mysql', 'information_schema', 'performance_schema', 'sys', 'dozen']);
    assert.ok(!selection.passes('dozen', 'access_users'));
    assert.ok(!selection.passes('mysql', 'user'));
    assert.ok(selection.passes('shop', 'orders'));
    assert.ok(!selection.concerns({ op: 'update', schema: 'dozen', table: null }));
    assert.deepEqual(selection.excludeFilter, { mysql: true, information_schema: true, performance_schema: true, sys: true, dozen: true });
    assert.deepEqual(new SchemaSelection([], [], undefined).neverPublished, ['mysql', 'information_schema', 'performance_schema', 'sys'], 'SQLite: no schema of its own');
  });

  it('names each wrong server setting and the missing grants', () => {
    const problems = serverProblems({ logBin: 'OFF', binlogFormat: 'MIXED', binlogRowImage: 'FULL', grants: ["GRANT SELECT ON *.* TO 'cdc'@'%'"], binlogRowMetadata: 'MINIMAL', account: "'cdc'@'127.0.0.1'" });
    assert.equal(problems.length, 3);
    assert.match(problems[0], /^log_bin is OFF/);
    assert.match(problems[1], /^binlog_format is MIXED/);
    assert.match(problems[2], /lacks REPLICATION SLAVE, REPLICATION CLIENT: GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON \*\.\* TO 'cdc'@'127\.0\.0\.1'$/);
    assert.deepEqual(serverProblems({ logBin: 'ON', binlogFormat: 'ROW', binlogRowImage: 'FULL', grants: ["GRANT BINLOG MONITOR, REPLICATION SLAVE, SELECT ON *.* TO 'cdc'@'%'"], binlogRowMetadata: 'FULL', account: "'cdc'@'%'" }), []);
  });
});
