// A small, realistic dataset for the Documents, Tables and SQL tests and their
// screenshots: customers and orders as SQL tables, and an "orders" document
// collection with nested items.

import { apiJson } from './browser.js';

const CUSTOMERS = [
  [1, 'Ada Lovelace', 'London', 'ada@example.com'],
  [2, 'Grace Hopper', 'New York', 'grace@example.com'],
  [3, 'Alan Turing', 'Manchester', 'alan@example.com'],
  [4, 'Katherine Johnson', 'Hampton', 'katherine@example.com'],
  [5, 'Linus Torvalds', 'Portland', 'linus@example.com'],
  [6, 'Margaret Hamilton', 'Boston', 'margaret@example.com'],
] as const;

const PRODUCTS = ['Desk lamp', 'Standing desk', 'Office chair', 'Monitor arm', 'Keyboard', 'Notebook'] as const;
const PRICES = [25, 420, 180, 65, 95, 4.5];
const STATUSES = ['paid', 'shipped', 'delivered', 'pending'] as const;

export type SeededOrder = { id: number; customer_id: number; product: string; quantity: number; total: number; status: string; created_at: string };

/** 24 orders spread over the customers, deterministic. */
export function orders(): SeededOrder[] {
  const out: SeededOrder[] = [];
  for (let i = 1; i <= 24; i++) {
    const p = (i * 7) % PRODUCTS.length;
    const quantity = 1 + (i % 3);
    out.push({
      id: 1000 + i,
      // Uneven on purpose: some customers order a lot, some rarely.
      customer_id: [1, 2, 1, 3, 5, 1, 2, 6, 4, 1, 2, 3][i % 12],
      product: PRODUCTS[p],
      quantity,
      total: Math.round(PRICES[p] * quantity * 100) / 100,
      status: STATUSES[i % STATUSES.length],
      created_at: new Date(Date.UTC(2026, 10, 1 + i, 9 + (i % 8), (i * 13) % 60)).toISOString(),
    });
  }
  return out;
}

async function sql(baseUrl: string, query: string, params?: unknown[]): Promise<void> {
  const answer = await apiJson(baseUrl, 'POST', '/api/v1/sql', { query, ...(params === undefined ? {} : { params }) });
  if (answer.status !== 200) throw new Error(`seeding SQL failed: ${query}: ${JSON.stringify(answer.error)}`);
}

/** SQL tables `customers` and `orders`. */
export async function seedTables(baseUrl: string): Promise<void> {
  await sql(baseUrl, 'CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL, city text, email text)');
  await sql(baseUrl, 'CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint NOT NULL, product text, quantity bigint, total float8, status text, created_at timestamptz)');
  await sql(baseUrl, `INSERT INTO customers VALUES ${CUSTOMERS.map((c) => `(${c[0]}, '${c[1]}', '${c[2]}', '${c[3]}')`).join(', ')}`);
  await sql(
    baseUrl,
    `INSERT INTO orders VALUES ${orders()
      .map((o) => `(${o.id}, ${o.customer_id}, '${o.product}', ${o.quantity}, ${o.total}, '${o.status}', '${o.created_at}')`)
      .join(', ')}`,
  );
}

/** The document collection `orders`: one document per order, with its customer and items nested. */
export async function seedDocuments(baseUrl: string): Promise<void> {
  const documents = orders().map((o) => {
    const c = CUSTOMERS[o.customer_id - 1];
    return {
      order_no: o.id,
      customer: { name: c[1], city: c[2], email: c[3] },
      items: [{ product: o.product, quantity: o.quantity, price: Math.round((o.total / o.quantity) * 100) / 100 }],
      total: o.total,
      status: o.status,
      created_at: { $date: o.created_at },
    };
  });
  const answer = await apiJson(baseUrl, 'POST', '/api/v1/docs/orders/insert', { documents });
  if (answer.status !== 200) throw new Error(`seeding documents failed: ${JSON.stringify(answer.error)}`);
  await apiJson(baseUrl, 'POST', '/api/v1/docs/orders/indexes', { keys: { status: 1, created_at: -1 } });
}
