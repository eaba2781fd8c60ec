// The Documents, Tables and SQL sections in a real browser against a real
// server (one server and one browser for the file): each section's main
// actions through the UI, checked through the API; a server error shown as a
// toast with its code; a reload on a deep link keeps the view; no serious
// axe-core violation; a screenshot with realistic data (query-seed.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { apiJson, confirm, dashboardEnv, expectErrorToast, expectSuccessToast, launchBrowser, openDashboard, openSection, screenshot, seriousViolations, SKIP_BROWSER } from './browser.js';
import { seedDocuments, seedTables } from './query-seed.js';

type Doc = Record<string, unknown>;

/** The grid of a results region, as text per row. */
async function gridRows(page: Page, caption: string): Promise<string[][]> {
  const grid = page.getByRole('region', { name: caption });
  await grid.waitFor();
  return grid.locator('tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')));
}

async function fill(page: Page, label: string, text: string): Promise<void> {
  await page.getByRole('textbox', { name: label, exact: true }).fill(text);
}

describe.skipIf(SKIP_BROWSER)('dashboard: Documents, Tables and SQL', () => {
  let server: ServerProcess;
  let browser: Browser;
  let url: string;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer({ shards: 2, env: dashboardEnv() }), launchBrowser()]);
    url = server.url;
    await seedTables(url);
    await seedDocuments(url);
  });
  afterAll(async () => {
    await browser?.close();
    await cleanup();
  });

  it('Documents: create a collection, insert, query, edit, delete, index, aggregate, explain', async () => {
    const { page, context, errors } = await openDashboard(browser, url, '/admin/overview');
    await openSection(page, 'Documents');
    // The first collection opens by itself, with its documents.
    await expect.poll(() => new URL(page.url()).searchParams.get('c')).toBe('orders');
    expect((await gridRows(page, 'Documents of orders')).length).toBe(20);

    // Create a collection with a $jsonSchema validator (the template requires "name").
    await page.getByRole('button', { name: 'New collection' }).click();
    await page.getByLabel('Collection name').fill('products');
    await page.getByLabel('Validate documents with a $jsonSchema').check();
    await page.getByRole('button', { name: 'Create collection' }).click();
    await expectSuccessToast(page, 'Collection “products” created');
    const created = await apiJson<{ options: { validator: Doc | null } }>(url, 'GET', '/api/v1/docs/products');
    expect(created.data.options.validator).toEqual({ $jsonSchema: { bsonType: 'object', required: ['name'], properties: { name: { bsonType: 'string' } } } });
    await expect.poll(() => new URL(page.url()).searchParams.get('c')).toBe('products');
    await page.getByText('This collection is empty').waitFor();

    // Insert one document, then two at once.
    await page.getByRole('button', { name: 'Insert document' }).click();
    await fill(page, 'New document (JSON)', '{"name": "Desk lamp", "price": 25, "tags": ["home", "office"]}');
    await page.getByRole('button', { name: 'Insert', exact: true }).click();
    await expectSuccessToast(page, 'Inserted 1 document');
    await page.getByRole('button', { name: 'Insert document' }).click();
    await fill(page, 'New document (JSON)', '[{"name": "Standing desk", "price": 420}, {"_id": "chair-1", "name": "Office chair", "price": 180}]');
    await page.getByRole('button', { name: 'Insert', exact: true }).click();
    await expectSuccessToast(page, 'Inserted 2 documents');
    const all = await apiJson<Doc[]>(url, 'POST', '/api/v1/docs/products/find', {});
    expect(all.data.map((d) => d.name).sort()).toEqual(['Desk lamp', 'Office chair', 'Standing desk']);

    // The validator refuses a document without a name: the server's code in a toast.
    await page.getByRole('button', { name: 'Insert document' }).click();
    await fill(page, 'New document (JSON)', '{"price": 1}');
    await page.getByRole('button', { name: 'Insert', exact: true }).click();
    await expectErrorToast(page, 'DOC_VALIDATION');
    await page.getByRole('button', { name: 'Cancel' }).click();

    // Query: filter and sort.
    await fill(page, 'Filter (JSON)', '{"price": {"$gt": 100}}');
    await fill(page, 'Sort (JSON)', '{"price": -1}');
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await expect.poll(async () => (await gridRows(page, 'Documents of products')).map((r) => r.find((c) => c === 'Standing desk' || c === 'Office chair'))).toEqual(['Standing desk', 'Office chair']);

    // Edit a document (PUT on its id) in the document view.
    await page.getByRole('button', { name: 'Open document chair-1' }).click();
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await fill(page, 'Document (JSON)', '{"_id": "chair-1", "name": "Office chair", "price": 199, "color": "black"}');
    await page.getByRole('button', { name: 'Save document' }).click();
    await expectSuccessToast(page, 'Document saved');
    const chair = await apiJson<Doc>(url, 'GET', '/api/v1/docs/products/chair-1');
    expect(chair.data).toEqual({ _id: 'chair-1', name: 'Office chair', price: 199, color: 'black' });
    await page.getByRole('button', { name: 'Close dialog' }).click();

    // Delete one (with confirmation).
    const desk = all.data.find((d) => d.name === 'Standing desk') as { _id: { $oid: string } };
    await page.getByRole('button', { name: `Open document ObjectId('${desk._id.$oid}')` }).click();
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await confirm(page);
    await expectSuccessToast(page, 'Document deleted');
    const left = await apiJson<Doc[]>(url, 'POST', '/api/v1/docs/products/find', {});
    expect(left.data.map((d) => d.name).sort()).toEqual(['Desk lamp', 'Office chair']);

    // A filter the server refuses: its code in a toast.
    await fill(page, 'Filter (JSON)', '{"price": {"$foo": 1}}');
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await expectErrorToast(page, 'BAD_QUERY');

    // Indexes: create a unique one, then drop it (with confirmation).
    await page.getByRole('tab', { name: 'Indexes' }).click();
    await fill(page, 'Index keys (JSON)', '{"name": 1}');
    await page.getByLabel('Unique').check();
    await page.getByRole('button', { name: 'Create index' }).click();
    await expectSuccessToast(page, 'Index “name_1” created');
    const withIndex = await apiJson<{ indexes: { name: string; unique: boolean }[] }>(url, 'GET', '/api/v1/docs/products');
    expect(withIndex.data.indexes.find((i) => i.name === 'name_1')?.unique).toBe(true);
    await page.getByRole('button', { name: 'Drop index name_1' }).click();
    await confirm(page);
    await expectSuccessToast(page, 'Index “name_1” dropped');
    expect((await apiJson<{ indexes: { name: string }[] }>(url, 'GET', '/api/v1/docs/products')).data.indexes.map((i) => i.name)).toEqual(['_id_']);

    // The seeded orders: cursor paging, kept in the URL across a reload.
    await page.getByRole('link', { name: /^orders/ }).click();
    await fill(page, 'Filter (JSON)', '{"status": {"$in": ["paid", "shipped"]}}');
    await fill(page, 'Sort (JSON)', '{"total": -1}');
    await page.getByLabel('Limit').fill('5');
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await expect.poll(async () => (await gridRows(page, 'Documents of orders')).length).toBe(5);
    const first = await gridRows(page, 'Documents of orders');
    await page.getByRole('navigation', { name: 'Document pages' }).getByRole('button', { name: 'Next →' }).click();
    await page.getByText('on page 2').waitFor();
    await expect.poll(async () => (await gridRows(page, 'Documents of orders'))[0]).not.toEqual(first[0]);
    const second = await gridRows(page, 'Documents of orders');
    await page.reload();
    await page.getByText('on page 2').waitFor();
    expect(await gridRows(page, 'Documents of orders')).toEqual(second);
    expect(await page.getByRole('textbox', { name: 'Filter (JSON)' }).inputValue()).toBe('{"status": {"$in": ["paid", "shipped"]}}');

    // EXPLAIN as a tree: the seeded index on status serves the filter.
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    await page.getByRole('tree', { name: 'Query plan' }).waitFor();
    await expect.poll(() => page.getByRole('tree', { name: 'Query plan' }).textContent()).toContain('IXSCAN on status_1_created_at_-1');

    // Aggregation: revenue per status.
    await page.getByRole('tab', { name: 'Aggregation' }).click();
    await fill(page, 'Aggregation pipeline (JSON array)', '[{"$group": {"_id": "$status", "orders": {"$sum": 1}, "revenue": {"$sum": "$total"}}}, {"$sort": {"revenue": -1}}]');
    await page.getByRole('button', { name: 'Run pipeline' }).click();
    await expect.poll(async () => (await gridRows(page, 'Pipeline output')).length).toBe(4);

    // Schema: the validator and the fields seen in a sample.
    await page.getByRole('tab', { name: 'Schema and validation' }).click();
    await page.getByRole('region', { name: 'Fields of orders' }).getByText('customer.city').waitFor();

    // The screenshot: the orders, filtered, projected and sorted.
    await page.getByRole('tab', { name: 'Documents' }).click();
    await fill(page, 'Projection (JSON)', '{"_id": 0, "order_no": 1, "customer.name": 1, "items.product": 1, "total": 1, "status": 1, "created_at": 1}');
    await page.getByLabel('Limit').fill('12');
    await page.getByRole('button', { name: 'Find', exact: true }).click();
    await expect.poll(async () => (await gridRows(page, 'Documents of orders')).length).toBe(12);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'documents');

    // Drop a collection (with confirmation).
    await page.getByRole('link', { name: /^products/ }).click();
    await page.getByRole('button', { name: 'Drop collection' }).click();
    await confirm(page);
    await expectSuccessToast(page, 'Collection “products” dropped');
    expect((await apiJson<{ name: string }[]>(url, 'GET', '/api/v1/docs')).data.map((c) => c.name)).toEqual(['orders']);
    expect(errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await context.close();
  });

  it('Tables: create a table, insert rows, query with a builder and cursor pages, indexes, stats, CQL', async () => {
    const { page, context, errors } = await openDashboard(browser, url, '/admin/overview');
    await openSection(page, 'Tables');

    // Create a table: id (int64, key), name, and a float64 price.
    await page.getByRole('button', { name: 'New table' }).click();
    await page.getByLabel('Table name').fill('products');
    await page.getByRole('button', { name: 'Add column' }).click();
    await page.getByLabel('Column 3 name').fill('price');
    await page.getByLabel('Column 3 type').selectOption('float64');
    await page.getByRole('button', { name: 'Create table' }).click();
    await expectSuccessToast(page, 'Table “products” created');
    const table = await apiJson<{ columns: { name: string; type: string }[]; primary_key: string[] }>(url, 'GET', '/api/v1/tables/products');
    expect(table.data.columns.map((c) => `${c.name}:${c.type}`)).toEqual(['id:int64', 'name:string', 'price:float64']);
    expect(table.data.primary_key).toEqual(['id']);

    // Insert rows (JSON).
    await page.getByRole('button', { name: 'Insert rows' }).click();
    await fill(page, 'Rows (JSON)', '[{"id": 1, "name": "Desk lamp", "price": 25}, {"id": 2, "name": "Standing desk", "price": 420}, {"id": 3, "name": "Office chair", "price": 180}]');
    await page.getByRole('button', { name: 'Insert', exact: true }).click();
    await expectSuccessToast(page, 'Inserted 3 rows');
    const rows = await apiJson<{ rows: unknown[][] }>(url, 'POST', '/api/v1/tables/products/query', { order_by: ['id'] });
    expect(rows.data.rows).toEqual([
      [1, 'Desk lamp', 25],
      [2, 'Standing desk', 420],
      [3, 'Office chair', 180],
    ]);
    await expect.poll(async () => (await gridRows(page, 'Rows of products')).length).toBe(3);

    // Drop it (with confirmation).
    await page.getByRole('button', { name: 'Drop table' }).click();
    await confirm(page);
    await expectSuccessToast(page, 'Table “products” dropped');
    expect((await apiJson(url, 'GET', '/api/v1/tables/products')).status).toBe(404);

    // The seeded orders: a condition from the builder, ordered, limited.
    await page.getByRole('link', { name: /^orders/ }).click();
    await page.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Condition 1 column').selectOption('status');
    await page.getByLabel('Condition 1 value').fill('paid');
    await page.getByLabel('Order by').selectOption('total');
    await page.getByLabel('Descending').check();
    await page.getByRole('button', { name: 'Run query' }).click();
    const paid = await apiJson<{ rows: unknown[][] }>(url, 'POST', '/api/v1/tables/orders/query', { columns: ['id'], where: { col: 'status', op: '=', value: 'paid' }, order_by: [{ column: 'total', desc: true }] });
    await expect.poll(async () => (await gridRows(page, 'Rows of orders')).map((r) => Number(r[0]))).toEqual(paid.data.rows.map((r) => r[0]));

    // Cursor pages over every order, kept across a reload.
    await page.getByRole('button', { name: 'Remove condition 1' }).click();
    await page.getByLabel('Order by').selectOption('');
    await page.getByLabel('Limit').fill('10');
    await page.getByRole('button', { name: 'Run query' }).click();
    await expect.poll(async () => (await gridRows(page, 'Rows of orders')).length).toBe(10);
    await page.getByRole('navigation', { name: 'Row pages' }).getByRole('button', { name: 'Next →' }).click();
    await page.getByText('rows on page 2').waitFor();
    await expect.poll(async () => (await gridRows(page, 'Rows of orders')).map((r) => Number(r[0]))).toEqual(Array.from({ length: 10 }, (_, i) => 1011 + i));
    const page2 = await gridRows(page, 'Rows of orders');
    await page.reload();
    await page.getByText('rows on page 2').waitFor();
    expect(await gridRows(page, 'Rows of orders')).toEqual(page2);
    await page.getByRole('navigation', { name: 'Row pages' }).getByRole('button', { name: 'Next →' }).click();
    await page.getByText('4 rows on page 3').waitFor();

    // A value of the wrong type: the server's code in a toast.
    await page.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Condition 1 column').selectOption('quantity');
    await page.getByLabel('Condition 1 value').fill('two');
    await page.getByRole('button', { name: 'Run query' }).click();
    await expectErrorToast(page, 'TYPE_MISMATCH');

    // Indexes: create a hash index on status, then drop it.
    await page.getByRole('tab', { name: 'Indexes' }).click();
    await page.getByRole('group', { name: 'Columns, in key order' }).getByLabel('status').check();
    await page.getByLabel('Type').selectOption('hash');
    await page.getByLabel('Name').fill('orders_by_status');
    await page.getByRole('button', { name: 'Create index' }).click();
    await expectSuccessToast(page, 'Index “orders_by_status” created');
    const indexed = await apiJson<{ indexes: { name: string; type: string; columns: string[] }[] }>(url, 'GET', '/api/v1/tables/orders');
    expect(indexed.data.indexes).toEqual([expect.objectContaining({ name: 'orders_by_status', type: 'hash', columns: ['status'] })]);
    await page.getByRole('button', { name: 'Drop index orders_by_status' }).click();
    await confirm(page);
    await expectSuccessToast(page, 'Index “orders_by_status” dropped');
    expect((await apiJson<{ indexes: unknown[] }>(url, 'GET', '/api/v1/tables/orders')).data.indexes).toEqual([]);

    // Storage stats: per column compression and per shard figures.
    await page.getByRole('tab', { name: 'Storage stats' }).click();
    await page.getByRole('button', { name: 'Run the mover now' }).click();
    await expectSuccessToast(page, 'The mover ran');
    await expect.poll(async () => (await gridRows(page, 'Column storage of orders')).map((r) => r[0])).toEqual(['id', 'customer_id', 'product', 'quantity', 'total', 'status', 'created_at']);
    expect((await gridRows(page, 'Shards of orders')).length).toBe(2);

    // The CQL console: a query, and a syntax error's code in a toast.
    await page.getByRole('tab', { name: 'CQL console' }).click();
    await fill(page, 'CQL statement', "SELECT name, city FROM customers WHERE id = 2");
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(async () => gridRows(page, 'CQL result')).toEqual([['Grace Hopper', 'New York']]);
    await fill(page, 'CQL statement', 'SELEC * FROM customers');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expectErrorToast(page, 'SyntaxException');

    // The screenshot: the orders of two statuses, largest first.
    await page.goto(`${url}/admin/tables?t=orders&where=${encodeURIComponent('{"col":"status","op":"in","value":["paid","shipped"]}')}&order=total&desc=1`);
    await expect.poll(async () => (await gridRows(page, 'Rows of orders')).length).toBe(12);
    expect(await page.getByLabel('Condition 1 value (comma-separated)').inputValue()).toBe('paid, shipped');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'tables');
    expect(errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await context.close();
  });

  it('SQL: statements with a JOIN, EXPLAIN as a tree, errors, history, the query in the URL', async () => {
    const { page, context, errors } = await openDashboard(browser, url, '/admin/overview');
    await openSection(page, 'SQL');

    // Several statements in one run: CREATE TABLE, INSERT, then a SELECT with a JOIN (Ctrl+Enter).
    const script = [
      'CREATE TABLE reviews (id bigint PRIMARY KEY, customer_id bigint, stars int, body text);',
      "INSERT INTO reviews VALUES (1, 1, 5, 'Lovely lamp'), (2, 2, 4, 'Sturdy desk'), (3, 1, 3, 'Chair squeaks; fine otherwise');",
      'SELECT c.name, count(*) AS reviews, avg(r.stars) AS stars',
      'FROM reviews r JOIN customers c ON c.id = r.customer_id',
      'GROUP BY c.name ORDER BY c.name;',
    ].join('\n');
    const editor = page.getByRole('textbox', { name: 'SQL query', exact: true });
    await editor.fill(script);
    await editor.press('Control+Enter');
    await expect.poll(async () => gridRows(page, 'Query results')).toEqual([
      ['Ada Lovelace', '2', '4'],
      ['Grace Hopper', '1', '4'],
    ]);
    await page.getByRole('list', { name: 'Statements run' }).getByText('INSERT · 3 affected').waitFor();
    await page.getByText('2 rows').first().waitFor();
    const reviews = await apiJson<{ rows: unknown[][] }>(url, 'POST', '/api/v1/sql', { query: 'SELECT id, stars FROM reviews ORDER BY id' });
    expect(reviews.data.rows).toEqual([
      [1, 5],
      [2, 4],
      [3, 3],
    ]);

    // EXPLAIN and EXPLAIN ANALYZE as trees.
    await page.getByRole('button', { name: 'Explain', exact: true }).click();
    const tree = page.getByRole('tree', { name: 'Query plan' });
    await expect.poll(() => tree.textContent()).toContain('→ Hash Join');
    await page.getByRole('button', { name: 'Explain analyze' }).click();
    await expect.poll(() => tree.textContent()).toContain('actual');
    expect(new URL(page.url()).searchParams.get('mode')).toBe('analyze');

    // A syntax error: the code in a toast, the place in the editor under the results.
    await editor.fill('SELECT name\nFROM customers\nWHER id = 1');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expectErrorToast(page, 'SQL_SYNTAX_ERROR');
    // (WHER reads as an alias: the error is at "id".)
    await page.getByText('at line 3, column 6').waitFor();
    await editor.fill('SELECT * FROM no_such_table');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expectErrorToast(page, 'SQL_UNDEFINED_TABLE');

    // History: one click runs an earlier query again.
    const history = page.getByRole('list', { name: 'Queries run in this tab' });
    // The script three times (run, explain, explain analyze) and the two failures.
    expect(await history.getByRole('listitem').count()).toBe(5);
    await history.getByRole('button', { name: /^Run again: CREATE TABLE reviews/ }).first().waitFor();
    // (the script would fail now: its table exists) — run the JOIN alone from the editor, then again from the history.
    const join = 'SELECT c.name, c.city, count(o.id) AS orders, sum(o.total) AS revenue\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\nGROUP BY c.name, c.city\nORDER BY revenue DESC;';
    await editor.fill(join);
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expect.poll(async () => (await gridRows(page, 'Query results')).length).toBe(6);
    await editor.fill('SELECT 1');
    await history.getByRole('button', { name: /^Run again: SELECT c.name, c.city/ }).click();
    await expect.poll(() => editor.inputValue()).toBe(join);
    await expect.poll(async () => (await gridRows(page, 'Query results')).length).toBe(6);

    // The query is in the URL: a reload puts it back and runs it again (it only reads).
    expect(new URL(page.url()).searchParams.get('q')).toBe(join);
    await page.reload();
    await expect.poll(() => editor.inputValue()).toBe(join);
    await expect.poll(async () => (await gridRows(page, 'Query results')).length).toBe(6);
    const rows = await gridRows(page, 'Query results');
    expect(rows[0][0]).toBeTruthy();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'sql');

    // A link with a statement that writes: put back, not run.
    await page.goto(`${url}/admin/sql?q=${encodeURIComponent('DELETE FROM reviews')}`);
    await page.getByText('put back without running it').waitFor();
    expect(await editor.inputValue()).toBe('DELETE FROM reviews');
    expect((await apiJson<{ rows: unknown[][] }>(url, 'POST', '/api/v1/sql', { query: 'SELECT count(*) FROM reviews' })).data.rows).toEqual([[3]]);
    expect(errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await context.close();
  });
});
