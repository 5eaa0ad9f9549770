import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mysqlAccount } from './data-source.js';

describe('database.url as connection options', () => {
  it('takes database.password when it is given, else the URL\'s', () => {
    assert.deepEqual(mysqlAccount('mysql://dozen@10.0.0.5:3306/dozen', 'from-env'), { host: '10.0.0.5', port: 3306, username: 'dozen', password: 'from-env', database: 'dozen' });
    assert.equal(mysqlAccount('mysql://dozen:in-url@10.0.0.5/dozen', undefined).password, 'in-url');
    assert.equal(mysqlAccount('mysql://dozen@10.0.0.5/dozen', undefined).password, '');
  });

  it('decodes what the URL escapes and leaves out what it does not say', () => {
    assert.deepEqual(mysqlAccount('mariadb://d%40zen:p%40ss%3Aword@[::1]/my%20db', undefined), { host: '::1', port: undefined, username: 'd@zen', password: 'p@ss:word', database: 'my db' });
    assert.equal(mysqlAccount('mysql://dozen@db.internal', undefined).database, undefined);
  });
});
