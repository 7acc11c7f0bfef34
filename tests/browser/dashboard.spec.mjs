// dashboard.spec.mjs — drives the dashboard in Debian's chromium (playwright-core, no bundled
// browser) against a running `ecom serve all`, as an operator would: orders made by
// `ecom load` appear live, an order followed before it exists fills its timeline live up to a
// terminal state, admin actions show the server's answer (409 reason for an illegal retry),
// the token survives a reload (sessionStorage), a poison message shows up in the DLQ and is
// replayed from the page, and the figures add up. Saves a full-page screenshot.
// Env: ECOM (binary), ORDER_URL, RM_URL, TOKEN, CHROMIUM, ARTIFACT (png path), PROFILE_DIR
// (fresh --user-data-dir), WORK (scratch dir). Prints "ok"/"FAIL"/"skip" lines and
// "N passed, M failed"; exit 1 on any failure.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http_ from 'node:http';
import path from 'node:path';

const env = (k) => {
	if (!process.env[k]) {
		console.log(`dashboard.spec: ${k} is not set`);
		process.exit(2);
	}
	return process.env[k];
};
const ECOM = env('ECOM'), O = env('ORDER_URL'), R = env('RM_URL'), TOKEN = env('TOKEN');
const CHROMIUM = env('CHROMIUM'), ARTIFACT = env('ARTIFACT'), PROFILE = env('PROFILE_DIR');
const WORK = env('WORK');
const LOAD_RATE = 10, LOAD_SECONDS = 2, LOAD_N = LOAD_RATE * LOAD_SECONDS;
const WAIT_MS = 30000;

let passed = 0, failed = 0, skipped = 0;
const ok = (name) => { passed++; console.log(`ok   ${name}`); };
const bad = (name, why) => { failed++; console.log(`FAIL ${name}${why ? `: ${why}` : ''}`); };
const skip = (name, why) => { skipped++; console.log(`skip ${name}: ${why}`); };
async function check(name, fn) {
	try {
		const r = await fn();
		if (r === false)
			bad(name);
		else
			ok(typeof r === 'string' ? `${name} (${r})` : name);
	} catch (e) {
		bad(name, String(e && e.message || e).split('\n')[0]);
	}
}

async function http(method, url, body, token) {
	const headers = {};
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (token)
		headers.Authorization = `Bearer ${token}`;
	const r = await fetch(url, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
	const text = await r.text();
	let json = null;
	try { json = JSON.parse(text); } catch (e) { json = null; }
	return {status: r.status, json, text};
}

async function until(what, fn, ms = WAIT_MS) {
	const end = Date.now() + ms;
	let last;
	while (Date.now() < end) {
		last = await fn().catch((e) => { last = e; return null; });
		if (last)
			return last;
		await new Promise((r) => setTimeout(r, 150));
	}
	throw new Error(`timed out waiting for ${what}`);
}

function runLoad(args) {
	return new Promise((resolve) => {
		const p = spawn(ECOM, ['load', ...args], {stdio: ['ignore', 'pipe', 'pipe']});
		let out = '', err = '';
		p.stdout.on('data', (d) => { out += d; });
		p.stderr.on('data', (d) => { err += d; });
		p.on('close', (code) => resolve({code, out, err}));
	});
}

// A pass-through HTTP proxy in front of the read model: records, per proxied SSE connection,
// the Last-Event-ID it was opened with and the ids relayed; cut() ends every open stream.
function startProxy(target) {
	const up = new URL(target);
	const conns = [], open = new Set();
	const server = http_.createServer((req, res) => {
		const k = {path: req.url.split('?')[0], lastEventId: req.headers['last-event-id'] || '', ids: []};
		const preq = http_.request({host: up.hostname, port: up.port, method: req.method,
			path: req.url, headers: req.headers}, (pres) => {
			res.writeHead(pres.statusCode, pres.headers);
			if (/event-stream/.test(pres.headers['content-type'] || '')) {
				conns.push(k);
				open.add(res);
				res.on('close', () => open.delete(res));
				let tail = '';
				pres.on('data', (d) => {
					tail += d.toString('utf8');
					const lines = tail.split('\n');
					tail = lines.pop();
					lines.forEach((l) => { if (l.startsWith('id: ')) k.ids.push(l.slice(4)); });
				});
			}
			pres.pipe(res);
		});
		preq.on('error', () => res.destroy());
		req.pipe(preq);
		res.on('close', () => preq.destroy());
	});
	return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
		url: `http://127.0.0.1:${server.address().port}`,
		conns,
		cut: () => { for (const r of open) r.destroy(); },
		close: () => { for (const r of open) r.destroy(); server.close(); },
	})));
}

const pageErrors = [];
const context = await chromium.launchPersistentContext(PROFILE, {
	executablePath: CHROMIUM,
	headless: true,
	viewport: {width: 1360, height: 900},
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = context.pages()[0] || await context.newPage();
page.on('pageerror', (e) => pageErrors.push(e.message));
const offOrigin = [];
page.on('request', (req) => {
	const u = req.url();
	if (!u.startsWith(R) && !u.startsWith('data:'))
		offOrigin.push(u);
});

try {
	// ---- load and live list -------------------------------------------------------------
	await page.goto(`${R}/`);
	await check('dashboard loads and the /stream indicator goes live', async () => {
		await page.waitForSelector('[data-testid=conn].conn-live', {timeout: 10000});
		return (await page.title()).includes('ecom');
	});
	const before = await page.locator('[data-testid=order-row]').count();
	const idsFile = path.join(WORK, 'load-ids.txt');
	const load = await runLoad(['--rate', String(LOAD_RATE), '--duration', String(LOAD_SECONDS),
		'--url', O, '--seed', '4242', '--ids-file', idsFile]);
	const ids = fs.existsSync(idsFile) ? fs.readFileSync(idsFile, 'utf8').split('\n').filter(Boolean) : [];
	await check(`ecom load sent ${LOAD_N} orders and all were accepted`, async () => {
		const summary = JSON.parse(load.out.trim().split('\n').pop());
		return load.code === 0 && summary.accepted === LOAD_N && ids.length === LOAD_N;
	});
	await check('the new orders appear in the list live (no reload)', async () => {
		await until('rows for every load order', async () => {
			for (const id of ids)
				if (!(await page.locator(`[data-testid=order-row][data-id="${id}"]`).count()))
					return null;
			return true;
		});
		const n = await page.locator('[data-testid=order-row]').count();
		return n >= before + LOAD_N ? `${before} -> ${n} rows` : false;
	});
	await check('every load order reaches a terminal status in the list', async () => {
		await until('terminal statuses', async () => {
			const st = await page.$$eval('[data-testid=order-row]', (rows, want) => rows
				.filter((r) => want.includes(r.dataset.id))
				.map((r) => r.querySelector('.badge').textContent), ids);
			return st.length === ids.length && st.every((s) => s === 'SHIPPED' || s === 'CANCELLED');
		});
		return true;
	});
	await check('status chips count the orders (SHIPPED + CANCELLED chips = terminal orders)', async () => {
		const rm = await http('GET', `${R}/orders?limit=1000`);
		const want = rm.json.filter((o) => o.status === 'SHIPPED' || o.status === 'CANCELLED').length;
		return await until('chip counts', async () => {
			const s = Number(await page.textContent('[data-testid=chip-SHIPPED] .c'));
			const c = Number(await page.textContent('[data-testid=chip-CANCELLED] .c'));
			return s + c === want ? `${s} shipped + ${c} cancelled` : null;
		});
	});

	// ---- follow an order before it exists: its timeline fills live -------------------------
	const liveId = `browser-${process.pid}`;
	await page.goto(`${R}/#order=${liveId}`);
	await page.waitForSelector('[data-testid=conn].conn-live', {timeout: 10000});
	await check('deep link #order=<id> opens the detail and follows it', async () => {
		await page.waitForSelector('[data-testid=detail-live].live-on', {timeout: 10000});
		return (await page.textContent('[data-testid=detail-id]')) === liveId;
	});
	const created = await http('POST', `${O}/orders`, {orderId: liveId, items: [{sku: 'SKU-3', qty: 2}], total: 20});
	await check('the followed order is created (201)', async () => created.status === 201);
	await check('its timeline fills live and reaches a terminal status', async () => {
		const st = await until('terminal status in the detail', async () => {
			const s = await page.textContent('[data-testid=detail-status]');
			return s === 'SHIPPED' || s === 'CANCELLED' ? s : null;
		});
		const types = await page.$$eval('[data-testid=timeline-entry]', (li) => li.map((x) => x.dataset.type));
		return types.includes('order.OrderCreated.v1') && types.includes('order.OrderStatusChanged.v1') ?
			`${st}, ${types.length} entries` : false;
	});
	await check('the timeline lists each event once (same eventIds as the projection)', async () => {
		const proj = await until('projection', async () => {
			const r = await http('GET', `${R}/orders/${liveId}`);
			return r.status === 200 && ['SHIPPED', 'CANCELLED'].includes(r.json.status) ? r.json : null;
		});
		await until('same entry count', async () =>
			(await page.locator('[data-testid=timeline-entry]').count()) === proj.timeline.length);
		return `${proj.timeline.length} events`;
	});

	// ---- a dropped timeline stream resumes with Last-Event-ID -----------------------------------
	// The page is loaded through a pass-through proxy that records the SSE ids it relays and can
	// cut every open stream. After the cut, EventSource must reconnect on its own with
	// Last-Event-ID = the last id it got, the server must resume after it, and events made
	// after the cut (an admin retry) must arrive once.
	await check('a cut order stream resumes with Last-Event-ID; later events arrive once', async () => {
		const id = `resume-${process.pid}`;
		const c = await http('POST', `${O}/orders`, {orderId: id, items: [{sku: 'SKU-11', qty: 60}], total: 600});
		if (c.status !== 201)
			throw new Error(`create: HTTP ${c.status}`);
		const p0 = await until('cancelled (out of stock)', async () => {
			const r = await http('GET', `${R}/orders/${id}`);
			return r.status === 200 && r.json.status === 'CANCELLED' ? r.json : null;
		});
		const px = await startProxy(R);
		try {
			const page2 = await context.newPage();
			page2.on('pageerror', (e) => pageErrors.push(e.message));
			await page2.goto(`${px.url}/#order=${id}`);
			await until('first timeline', async () =>
				(await page2.locator('[data-testid=timeline-entry]').count()) === p0.timeline.length);
			const streamPath = `/orders/${id}/stream`;
			const firstConn = px.conns.find((k) => k.path === streamPath);
			const lastId = firstConn && firstConn.ids[firstConn.ids.length - 1];
			px.cut();
			const again = await until('reconnect through the proxy', async () =>
				px.conns.find((k) => k.path === streamPath && k !== firstConn) || null);
			if (again.lastEventId !== lastId)
				throw new Error(`reconnect sent Last-Event-ID '${again.lastEventId}', want '${lastId}'`);
			await until('live again', async () =>
				/following live/.test(await page2.textContent('[data-testid=detail-live]')));
			const r = await http('POST', `${R}/admin/retry/${id}`, {step: 'inventory'}, TOKEN);
			if (r.status !== 200)
				throw new Error(`retry: HTTP ${r.status} ${r.text}`);
			const p1 = await until('retry settled', async () => {
				const x = await http('GET', `${R}/orders/${id}`);
				return x.json && x.json.attempt === 1 && x.json.status === 'CANCELLED' ? x.json : null;
			});
			await until('timeline complete', async () =>
				(await page2.locator('[data-testid=timeline-entry]').count()) === p1.timeline.length);
			const resent = again.ids.filter((x) => firstConn.ids.includes(x));
			await page2.close();
			if (resent.length)
				throw new Error(`the server resent ${resent.length} entries after the resume`);
			return `${p0.timeline.length} -> ${p1.timeline.length} entries, resumed after ${String(lastId).slice(0, 8)}…`;
		} finally {
			px.close();
		}
	});

	// ---- admin actions ---------------------------------------------------------------------
	await check('an admin action without a token says so', async () => {
		await page.click('[data-testid=retry-payment]');
		const t = await until('message', async () => {
			const m = page.locator('[data-testid=action-msg]');
			return (await m.isVisible()) ? m.textContent() : null;
		});
		return /token/i.test(t) ? t.trim() : false;
	});
	await page.fill('[data-testid=token]', 'not-a-jwt');
	await page.click('[data-testid=token-save]');
	await check('a bad token gets the server\'s 401 reason', async () => {
		await page.click('[data-testid=retry-payment]');
		const t = await until('401 message', async () => {
			const m = await page.textContent('[data-testid=action-msg]');
			return /Not authorized/.test(m) ? m : null;
		});
		return t.trim();
	});
	await page.fill('[data-testid=token]', TOKEN);
	await page.click('[data-testid=token-save]');
	await check('the token is kept in sessionStorage across a reload', async () => {
		await page.reload();
		await page.waitForSelector('[data-testid=conn].conn-live', {timeout: 10000});
		const v = await page.inputValue('[data-testid=token]');
		const stored = await page.evaluate(() => sessionStorage.getItem('ecom.adminToken'));
		return v === TOKEN && stored === TOKEN;
	});
	const shippedId = (await http('GET', `${R}/orders?status=SHIPPED&limit=1`)).json[0]?.orderId;
	await check('illegal retry of a SHIPPED order shows the 409 refusal reason', async () => {
		if (!shippedId)
			throw new Error('no SHIPPED order to click');
		await page.fill('[data-testid=filter]', shippedId);
		await page.click(`[data-testid=order-row][data-id="${shippedId}"]`);
		await until('detail', async () => (await page.textContent('[data-testid=detail-status]')) === 'SHIPPED');
		await page.click('[data-testid=retry-payment]');
		const t = await until('refusal', async () => {
			const m = page.locator('[data-testid=action-msg].refused');
			return (await m.count()) ? m.textContent() : null;
		});
		return /Refused/.test(t) && /SHIPPED/.test(t) ? t.trim() : false;
	});
	// Out of stock (the server runs with --stock 50): cancelled at the inventory step, so
	// retrying inventory is legal.
	const oos = await http('POST', `${O}/orders`, {orderId: `oos-${process.pid}`, items: [{sku: 'SKU-9', qty: 60}], total: 600});
	await check('a legal retry (order cancelled at inventory) is accepted', async () => {
		if (oos.status !== 201)
			throw new Error(`create: HTTP ${oos.status}`);
		const id = `oos-${process.pid}`;
		await page.fill('[data-testid=filter]', id);
		await page.click(`[data-testid=order-row][data-id="${id}"]`, {timeout: WAIT_MS});
		await until('cancelled', async () => (await page.textContent('[data-testid=detail-status]')) === 'CANCELLED');
		await page.click('[data-testid=retry-inventory]');
		const t = await until('accepted', async () => {
			const m = page.locator('[data-testid=action-msg].ok');
			return (await m.count()) ? m.textContent() : null;
		});
		await until('RetryRequested in the timeline', async () =>
			(await page.locator('[data-testid=timeline-entry][data-type="ops.RetryRequested.v1"]').count()) > 0);
		return t.trim();
	});
	await page.fill('[data-testid=filter]', '');

	// ---- DLQ -------------------------------------------------------------------------------------
	const poison = await http('POST', `${R}/debug/produce`,
		{topic: 'payment.PaymentAuthorized.v1', key: `poison-${process.pid}`, value: '{"not": "an envelope"'}, TOKEN);
	if (poison.status === 404) {
		skip('DLQ entry replayed from the page', 'the server has no way to inject a poison message ' +
			'(POST /debug/produce with ECOM_DEBUG_ROUTES=1 is not there)');
		await check('the DLQ panel lists the (empty) queue with a token', async () => {
			await page.click('[data-testid=dlq-refresh]');
			return until('dlq answer', async () => /No dead letters/.test(await page.textContent('[data-testid=dlq-empty]')));
		});
	} else {
		await check('a poison message is produced through the debug route', async () => poison.status === 200 ? true : `HTTP ${poison.status}`);
		await check('the dead letter shows up in the DLQ panel', async () => {
			await until('dead letter in the read model', async () => {
				const r = await http('GET', `${R}/admin/dlq`, undefined, TOKEN);
				return r.status === 200 && r.json.length > 0;
			});
			await page.click('[data-testid=dlq-refresh]');
			await page.waitForSelector('[data-testid=dlq-row]', {timeout: 10000});
			return `${await page.locator('[data-testid=dlq-row]').count()} row(s)`;
		});
		await check('replaying it from the page republishes it and records the replay', async () => {
			const row = page.locator('[data-testid=dlq-row]').first();
			const id = await row.getAttribute('data-id');
			await row.locator('[data-testid=dlq-replay]').click();
			const t = await until('replay message', async () => {
				const m = page.locator('[data-testid=dlq-msg].ok');
				return (await m.count()) ? m.textContent() : null;
			});
			await until('row marked replayed', async () =>
				/yes/.test(await page.locator(`[data-testid=dlq-row][data-id="${id}"]`).textContent()));
			const r = await http('GET', `${R}/admin/dlq`, undefined, TOKEN);
			const entry = r.json.find((d) => d.dlqId === id);
			return /1 republished/.test(t) && entry && entry.replayed === 1 ? t.trim() : false;
		});
		await check('the DLQ figure (from /metrics) counts the dead letters', async () =>
			until('dlq figure', async () => Number(await page.textContent('[data-testid=stat-dlq]')) >= 1));
	}

	// ---- figures ---------------------------------------------------------------------------------
	await check('figures: orders/min, shipped vs cancelled and the median create->terminal time', async () => {
		const rate = Number(await page.textContent('[data-testid=stat-rate]'));
		const s = Number(await page.textContent('[data-testid=stat-shipped]'));
		const c = Number(await page.textContent('[data-testid=stat-cancelled]'));
		const median = await page.textContent('[data-testid=stat-median]');
		return rate >= LOAD_N && s + c >= LOAD_N && /\d/.test(median) ?
			`${rate}/min, ${s} shipped, ${c} cancelled, median ${median}` : false;
	});
	await check('narrow screens get one column (responsive)', async () => {
		await page.setViewportSize({width: 600, height: 900});
		const cols = await page.$eval('.grid', (g) => getComputedStyle(g).gridTemplateColumns.split(' ').length);
		await page.setViewportSize({width: 1360, height: 900});
		return cols === 1;
	});

	// The screenshot: the detail of the followed order, with the admin answer and the DLQ.
	await page.goto(`${R}/#order=${liveId}`);
	await page.waitForSelector('[data-testid=detail-live].live-on', {timeout: 10000});
	await page.click('[data-testid=retry-shipping]');
	await page.waitForSelector('[data-testid=action-msg]:not([hidden])', {timeout: 10000});
	await page.click('[data-testid=dlq-refresh]');
	await page.waitForTimeout(500);
	fs.mkdirSync(path.dirname(ARTIFACT), {recursive: true});
	await page.screenshot({path: ARTIFACT, fullPage: true});
	await check(`screenshot saved to ${ARTIFACT}`, async () => fs.statSync(ARTIFACT).size > 10000);
	await check('no JavaScript errors on the page', async () =>
		pageErrors.length === 0 ? true : (() => { throw new Error(pageErrors.join('; ')); })());
	await check('no request left the dashboard\'s origin', async () =>
		offOrigin.length === 0 ? true : (() => { throw new Error(offOrigin.slice(0, 3).join(', ')); })());
} catch (e) {
	bad('dashboard run', String(e && e.stack || e));
} finally {
	await context.close();
}

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
