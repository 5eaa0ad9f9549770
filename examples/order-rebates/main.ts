/**
 * order-rebates: hears every new row of shop.orders through dozen's broadcast
 * hub and writes a rebate for it, without knowing anything about the code
 * that takes orders. The rebate insert is keyed by order id, so a message
 * seen twice (a restart of this app) never pays twice.
 *
 *   DOZEN_URL=http://127.0.0.1:7700 DOZEN_TOKEN=<token> \
 *   SHOP_MYSQL_URL=mysql://app@127.0.0.1:3306/shop node dist/examples/order-rebates/main.js
 */
import mysql from 'mysql2/promise';
import { BroadcastClient } from 'dozen/client';

interface OrderChange {
  op: 'insert' | 'update' | 'delete' | 'truncate';
  schema: string;
  table: string;
  after: { id: number; customer: string; amount: string } | null;
}

const dozenUrl = process.env.DOZEN_URL ?? 'http://127.0.0.1:7700';
const token = process.env.DOZEN_TOKEN;
const shopUrl = process.env.SHOP_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/shop';
const percent = Number(process.env.REBATE_PERCENT ?? '5');

const shop = await mysql.createConnection(shopUrl);
const schema = new URL(shopUrl).pathname.slice(1) || 'shop';
await shop.query(
  `CREATE TABLE IF NOT EXISTS rebates (
     order_id INT PRIMARY KEY,
     customer VARCHAR(100) NOT NULL,
     rebate DECIMAL(10,2) NOT NULL,
     created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`,
);

const client = new BroadcastClient(dozenUrl, { token });
const room = `db.${schema}.orders`;
client.join(room);
client.on('gap', () => console.error(`missed messages in ${room}; orders placed meanwhile need a rebate check`));
console.log(`order-rebates: listening to ${room} on ${dozenUrl}, ${percent}% rebate`);

const stop = () => {
  client.close();
  void shop.end();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

for await (const message of client.messages<OrderChange>(room)) {
  const change = message.data;
  if (change.op !== 'insert' || !change.after) continue;
  const order = change.after;
  const rebate = ((Number(order.amount) * percent) / 100).toFixed(2);
  const [result] = await shop.query('INSERT IGNORE INTO rebates (order_id, customer, rebate) VALUES (?, ?, ?)', [order.id, order.customer, rebate]);
  if ((result as { affectedRows: number }).affectedRows) console.log(`order ${order.id}: rebate ${rebate} for ${order.customer}`);
}
