/* ecom dashboard — plain JS, no framework, no build step, no request beyond this origin.
 * Orders: GET /orders?limit=1000 once, then GET /stream (SSE of every order change) keeps the
 * list, the status counts and the figures live; after a dropped stream the list is fetched
 * again, since /stream has no backlog. The selected order follows GET /orders/:id/stream,
 * whose messages carry `id:` lines, so EventSource resumes with Last-Event-ID by itself; a
 * reconnect also re-reads the projection and merges by eventId, so nothing is lost or shown
 * twice. Admin calls carry the token from sessionStorage; refusals (409) show the server's
 * reason. All data goes into the page with textContent, never as HTML. */
'use strict';

(function () {
	const LIST_LIMIT = 1000;        /* GET /orders?limit= (the server's maximum) */
	const ORDERS_MAX = 20000;       /* orders kept in memory; the oldest updates go first */
	const ROWS_MAX = 200;           /* rows drawn in the list */
	const RENDER_MS = 150;          /* at most one redraw per this interval */
	const FRESH_MS = 1500;          /* a row changed this recently is highlighted */
	const RATE_WINDOW_MS = 60000;   /* orders/min and events/min window */
	const METRICS_MS = 5000;        /* DLQ gauge poll */
	const DLQ_POLL_MS = 10000;      /* DLQ table refresh while a token is set */
	const RECONNECT_MS = 2000;      /* after an EventSource gave up */
	const TOKEN_KEY = 'ecom.adminToken';
	const TERMINAL = new Set(['SHIPPED', 'CANCELLED']);
	const STATUSES = ['CREATED', 'RETRYING', 'INVENTORY_RESERVED', 'PAYMENT_AUTHORIZED',
		'SHIPPED', 'INVENTORY_FAILED', 'PAYMENT_FAILED', 'SHIPPING_FAILED', 'CANCELLED'];
	const TYPE_INFO = {
		'order.OrderCreated.v1': ['Order created', 'ev-order'],
		'inventory.InventoryReserved.v1': ['Inventory reserved', 'ev-inv'],
		'inventory.InventoryFailed.v1': ['Inventory failed', 'ev-fail'],
		'inventory.InventoryReleased.v1': ['Inventory released', 'ev-comp'],
		'payment.PaymentAuthorized.v1': ['Payment authorized', 'ev-pay'],
		'payment.PaymentFailed.v1': ['Payment failed', 'ev-fail'],
		'payment.PaymentRefunded.v1': ['Payment refunded', 'ev-comp'],
		'shipping.OrderShipped.v1': ['Order shipped', 'ev-ship'],
		'shipping.ShippingFailed.v1': ['Shipping failed', 'ev-fail'],
		'order.OrderStatusChanged.v1': ['Status', 'ev-status'],
		'ops.RetryRequested.v1': ['Retry requested', 'ev-ops'],
		'ops.CompensationRequested.v1': ['Compensation requested', 'ev-ops'],
		'ops.StepTimeout.v1': ['Step timed out', 'ev-fail'],
	};

	const $ = (id) => document.getElementById(id);
	const state = {
		orders: new Map(),      /* orderId -> order summary (see blank()) */
		filterStatus: '',
		filterText: '',
		selected: '',
		events: new Map(),      /* second -> /stream messages that arrived in it (events/min) */
		streamAll: null,
		streamAllFailed: false,
		streamOrder: null,
		orderGen: 0,            /* bumps on every selection: late answers for an old one are dropped */
		timeline: new Map(),    /* eventId -> entry, for the selected order */
		arrival: 0,
		renderTimer: 0,
		dlqTimer: 0,
	};

	/* ---- helpers ------------------------------------------------------------------- */

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls)
			e.className = cls;
		if (text !== undefined && text !== null)
			e.textContent = String(text);
		return e;
	}

	function ms(iso) {
		const t = Date.parse(iso || '');
		return Number.isFinite(t) ? t : 0;
	}

	function money(v) {
		return typeof v === 'number' ? v.toFixed(2) : '–';
	}

	function clock(t) {
		if (!t)
			return '–';
		const d = new Date(t);
		const p = (n, w) => String(n).padStart(w || 2, '0');
		return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
	}

	function ago(t, now) {
		if (!t)
			return '–';
		const s = Math.max(0, Math.round((now - t) / 1000));
		if (s < 60)
			return `${s}s ago`;
		if (s < 3600)
			return `${Math.floor(s / 60)}m ago`;
		return clock(t).slice(0, 8);
	}

	function duration(msv) {
		if (msv === null || msv === undefined || !Number.isFinite(msv))
			return '–';
		if (msv < 1000)
			return `${Math.round(msv)} ms`;
		if (msv < 120000)
			return `${(msv / 1000).toFixed(msv < 10000 ? 2 : 1)} s`;
		return `${(msv / 60000).toFixed(1)} min`;
	}

	function units(items) {
		return Array.isArray(items) ? items.reduce((s, it) => s + (Number(it.qty) || 0), 0) : 0;
	}

	function itemsText(items) {
		if (!Array.isArray(items) || !items.length)
			return 'none';
		return items.map((it) => `${it.sku}×${it.qty}`).join(', ');
	}

	function statusBadge(status) {
		const s = status || 'UNKNOWN';
		return el('span', `badge st-${/^[A-Z_]+$/.test(s) ? s : 'UNKNOWN'}`, s);
	}

	function percentile(sorted, q) {
		if (!sorted.length)
			return null;
		const k = Math.max(1, Math.ceil(q * sorted.length));
		return sorted[Math.min(k, sorted.length) - 1];
	}

	function token() {
		try {
			return sessionStorage.getItem(TOKEN_KEY) || '';
		} catch (e) {
			return '';
		}
	}

	/* fetch on this origin; resolves {status, json, text}; a network failure is status 0. */
	async function call(method, path, body, admin) {
		const headers = {Accept: 'application/json'};
		if (body !== undefined)
			headers['Content-Type'] = 'application/json';
		if (admin && token())
			headers.Authorization = `Bearer ${token()}`;
		try {
			const r = await fetch(path, {method, headers, cache: 'no-store',
				body: body === undefined ? undefined : JSON.stringify(body)});
			const text = await r.text();
			let json = null;
			try {
				json = text ? JSON.parse(text) : null;
			} catch (e) {
				json = null;
			}
			return {status: r.status, json, text};
		} catch (e) {
			return {status: 0, json: null, text: String(e && e.message || e)};
		}
	}

	function errorText(r) {
		if (r.status === 0)
			return `the read model did not answer (${r.text})`;
		if (r.json && typeof r.json.error === 'string')
			return r.json.error;
		return r.text ? r.text.slice(0, 200) : `HTTP ${r.status}`;
	}

	/* ---- the order map ----------------------------------------------------------------- */

	function blank(id) {
		return {id, status: 'UNKNOWN', total: null, units: 0, attempt: 0, createdMs: 0,
			updatedMs: 0, terminalMs: 0, changedMs: 0};
	}

	function getOrder(id) {
		let o = state.orders.get(id);
		if (!o) {
			o = blank(id);
			state.orders.set(id, o);
			if (state.orders.size > ORDERS_MAX)
				evictOldest();
		}
		return o;
	}

	/* Drops the least recently updated tenth at once, so a busy stream costs one sort per
	 * ORDERS_MAX / 10 new orders rather than a scan per order. */
	function evictOldest() {
		const all = Array.from(state.orders.values()).filter((o) => o.id !== state.selected);
		all.sort((a, b) => a.updatedMs - b.updatedMs);
		all.slice(0, state.orders.size - Math.floor(ORDERS_MAX * 0.9))
			.forEach((o) => state.orders.delete(o.id));
	}

	/* Folds one timeline entry (from a projection or an SSE message) into the summary. */
	function foldEntry(o, e) {
		const at = ms(e.at);
		const d = e.details || {};
		if (e.type === 'order.OrderCreated.v1') {
			o.createdMs = at || o.createdMs;
			if (typeof d.total === 'number')
				o.total = d.total;
			if (Array.isArray(d.items))
				o.units = units(d.items);
		}
		if (e.type === 'order.OrderStatusChanged.v1' && TERMINAL.has(d.status) && at)
			o.terminalMs = Math.max(o.terminalMs, at);
		if (typeof d.attempt === 'number' && d.attempt > o.attempt)
			o.attempt = d.attempt;
		if (at > o.updatedMs)
			o.updatedMs = at;
	}

	function fromProjection(p) {
		const id = p.orderId || p._id;
		if (!id)
			return null;
		const o = getOrder(id);
		o.status = p.status || p.currentStatus || o.status;
		if (typeof p.total === 'number')
			o.total = p.total;
		if (Array.isArray(p.items))
			o.units = units(p.items);
		if (typeof p.attempt === 'number')
			o.attempt = p.attempt;
		(p.timeline || []).forEach((e) => foldEntry(o, e));
		o.createdMs = o.createdMs || ms(p.createdAt);
		o.updatedMs = Math.max(o.updatedMs, ms(p.updatedAt));
		if (TERMINAL.has(o.status) && !o.terminalMs)
			o.terminalMs = ms(p.updatedAt);
		return o;
	}

	/* create -> terminal time of a terminal order, or null. */
	function took(o) {
		if (!TERMINAL.has(o.status) || !o.createdMs || !o.terminalMs)
			return null;
		return Math.max(0, o.terminalMs - o.createdMs);
	}

	async function loadOrders() {
		const r = await call('GET', `orders?limit=${LIST_LIMIT}`);
		if (r.status !== 200 || !Array.isArray(r.json)) {
			$('list-note').textContent = `Could not load orders: ${errorText(r)}`;
			return;
		}
		r.json.forEach(fromProjection);
		$('list-note').textContent = '';
		scheduleRender();
	}

	/* ---- the live stream of every order ------------------------------------------------- */

	function setConn(cls, text) {
		const c = $('conn');
		c.className = `conn ${cls}`;
		c.textContent = text;
	}

	function openStreamAll() {
		const es = new EventSource('stream');
		state.streamAll = es;
		es.onopen = () => {
			setConn('conn-live', 'live');
			if (state.streamAllFailed) {
				/* /stream has no backlog: whatever changed while we were away is re-read. */
				state.streamAllFailed = false;
				loadOrders();
			}
		};
		es.onmessage = (ev) => {
			let m;
			try {
				m = JSON.parse(ev.data);
			} catch (e) {
				return;
			}
			if (!m || !m.orderId)
				return;
			const o = getOrder(m.orderId);
			foldEntry(o, m);
			if (m.status && m.status !== 'UNKNOWN')
				o.status = m.status;
			o.changedMs = Date.now();
			const sec = Math.floor(o.changedMs / 1000);
			state.events.set(sec, (state.events.get(sec) || 0) + 1);
			scheduleRender();
		};
		es.onerror = () => {
			state.streamAllFailed = true;
			if (es.readyState === EventSource.CLOSED) {
				setConn('conn-off', 'disconnected: retrying');
				setTimeout(() => {
					if (state.streamAll === es)
						openStreamAll();
				}, RECONNECT_MS);
			} else {
				setConn('conn-wait', 'reconnecting…');
			}
		};
	}

	/* ---- rendering ------------------------------------------------------------------------ */

	function scheduleRender() {
		if (state.renderTimer)
			return;
		state.renderTimer = setTimeout(() => {
			state.renderTimer = 0;
			render();
		}, RENDER_MS);
	}

	function render() {
		const now = Date.now();
		renderStats(now);
		renderChips();
		renderList(now);
		if (state.selected)
			renderDetailMeta();
	}

	function renderStats(now) {
		const counts = {};
		let rate = 0, flight = 0;
		const durations = [];
		for (const o of state.orders.values()) {
			counts[o.status] = (counts[o.status] || 0) + 1;
			if (o.createdMs && now - o.createdMs <= RATE_WINDOW_MS)
				rate++;
			if (!TERMINAL.has(o.status))
				flight++;
			const t = took(o);
			if (t !== null)
				durations.push(t);
		}
		let events = 0;
		for (const [sec, n] of state.events) {
			if (now - sec * 1000 > RATE_WINDOW_MS)
				state.events.delete(sec);
			else
				events += n;
		}
		durations.sort((a, b) => a - b);
		const shipped = counts.SHIPPED || 0, cancelled = counts.CANCELLED || 0;
		const done = shipped + cancelled;
		$('s-total').textContent = state.orders.size;
		$('s-rate').textContent = rate;
		$('s-shipped').textContent = shipped;
		$('s-cancelled').textContent = cancelled;
		$('s-shipped-pct').textContent = done ? `${Math.round(100 * shipped / done)}% of terminal` : '–';
		$('s-cancelled-pct').textContent = done ? `${Math.round(100 * cancelled / done)}% of terminal` : '–';
		$('s-flight').textContent = flight;
		$('s-median').textContent = duration(percentile(durations, 0.5));
		$('s-p95').textContent = `median · p95 ${duration(percentile(durations, 0.95))}` +
			(durations.length ? ` · n=${durations.length}` : '');
		$('s-events').textContent = events;
		state.counts = counts;
	}

	const chipCache = new Map(); /* status ('' = all) -> {b, c} */

	function chip(status, label) {
		let ch = chipCache.get(status);
		if (!ch) {
			const cls = status ? `chip st-${/^[A-Z_]+$/.test(status) ? status : 'UNKNOWN'}` : 'chip';
			const b = el('button', cls, label);
			b.type = 'button';
			b.dataset.status = status;
			b.setAttribute('data-testid', status ? `chip-${status}` : 'chip-all');
			const c = el('span', 'c', '0');
			b.appendChild(c);
			$('chips').appendChild(b);
			ch = {b, c};
			chipCache.set(status, ch);
		}
		return ch;
	}

	function renderChips() {
		const counts = state.counts || {};
		const known = STATUSES.concat(Object.keys(counts).filter((s) => !STATUSES.includes(s)));
		const all = chip('', 'All');
		all.c.textContent = String(state.orders.size);
		all.b.setAttribute('aria-pressed', String(state.filterStatus === ''));
		known.forEach((s) => {
			const ch = chip(s, s);
			ch.c.textContent = String(counts[s] || 0);
			ch.b.setAttribute('aria-pressed', String(state.filterStatus === s));
		});
	}

	/* Rows are kept per order and updated in place (a row is never replaced under the
	 * pointer, so a click always lands); only their order and cells change. */
	const rowCache = new Map();

	function rowFor(o) {
		let r = rowCache.get(o.id);
		if (!r) {
			const tr = el('tr');
			tr.dataset.id = o.id;
			tr.setAttribute('data-testid', 'order-row');
			const id = el('td', 'id', o.id.length > 13 ? `${o.id.slice(0, 13)}…` : o.id);
			id.title = o.id;
			const st = el('td');
			r = {tr, st, total: el('td', 'num'), units: el('td', 'num'), when: el('td', 'when'),
				status: null};
			tr.append(id, st, r.total, r.units, r.when);
			rowCache.set(o.id, r);
		}
		return r;
	}

	function renderList(now) {
		const body = $('orders-body');
		const text = state.filterText.toLowerCase();
		const rows = [];
		for (const o of state.orders.values()) {
			if (state.filterStatus && o.status !== state.filterStatus)
				continue;
			if (text && !o.id.toLowerCase().includes(text))
				continue;
			rows.push(o);
		}
		rows.sort((a, b) => (b.createdMs || b.updatedMs) - (a.createdMs || a.updatedMs) ||
			(a.id < b.id ? -1 : 1));
		const shown = rows.slice(0, ROWS_MAX);
		const keep = new Set(shown.map((o) => o.id));
		for (const [id, r] of rowCache) {
			if (!keep.has(id)) {
				r.tr.remove();
				rowCache.delete(id);
			}
		}
		shown.forEach((o, i) => {
			const r = rowFor(o);
			r.tr.classList.toggle('selected', o.id === state.selected);
			r.tr.classList.toggle('fresh', !!o.changedMs && now - o.changedMs < FRESH_MS);
			if (r.status !== o.status) {
				r.st.textContent = '';
				r.st.appendChild(statusBadge(o.status));
				r.status = o.status;
			}
			r.total.textContent = money(o.total);
			r.units.textContent = o.units || '–';
			r.when.textContent = ago(o.updatedMs, now);
			if (body.children[i] !== r.tr)
				body.insertBefore(r.tr, body.children[i] || null);
		});
		$('list-note').textContent = rows.length > ROWS_MAX ?
			`Showing the newest ${ROWS_MAX} of ${rows.length}.` :
			(rows.length ? '' : (state.orders.size ? 'No order matches the filter.' :
				'No orders yet: try `ecom load --rate 5 --duration 10`.'));
	}

	/* ---- the selected order ---------------------------------------------------------------- */

	function setLive(cls, text) {
		const l = $('d-live');
		l.className = `live ${cls}`;
		l.textContent = text;
	}

	function selectOrder(id) {
		if (!id)
			return;
		if (state.streamOrder)
			state.streamOrder.close();
		state.streamOrder = null;
		state.selected = id;
		state.orderGen++;
		state.timeline = new Map();
		state.arrival = 0;
		$('d-id').textContent = id;
		$('d-empty').hidden = true;
		$('d-body').hidden = false;
		$('action-msg').hidden = true;
		$('timeline').textContent = '';
		$('d-count').textContent = '';
		if (location.hash !== `#order=${encodeURIComponent(id)}`)
			history.replaceState(null, '', `#order=${encodeURIComponent(id)}`);
		getOrder(id);
		refreshProjection(id, state.orderGen);
		openOrderStream(id, state.orderGen);
		scheduleRender();
	}

	async function refreshProjection(id, gen) {
		const r = await call('GET', `orders/${encodeURIComponent(id)}`);
		if (gen !== state.orderGen)
			return;
		if (r.status === 200 && r.json) {
			fromProjection(r.json);
			(r.json.timeline || []).forEach(addTimelineEntry);
			renderTimeline();
			scheduleRender();
		}
	}

	function openOrderStream(id, gen) {
		const es = new EventSource(`orders/${encodeURIComponent(id)}/stream`);
		let dropped = false;
		state.streamOrder = es;
		setLive('live-wait', 'connecting…');
		es.onopen = () => {
			setLive('live-on', 'following live');
			if (dropped) {
				/* EventSource resent Last-Event-ID; also re-read the projection in case an
				 * event sorted before the last one we saw arrived while we were away. */
				dropped = false;
				refreshProjection(id, gen);
			}
		};
		es.onmessage = (ev) => {
			if (gen !== state.orderGen)
				return;
			let m;
			try {
				m = JSON.parse(ev.data);
			} catch (e) {
				return;
			}
			const o = getOrder(id);
			foldEntry(o, m);
			if (m.status && m.status !== 'UNKNOWN')
				o.status = m.status;
			o.changedMs = Date.now();
			if (addTimelineEntry(m))
				renderTimeline();
			scheduleRender();
		};
		es.onerror = () => {
			dropped = true;
			if (es.readyState === EventSource.CLOSED) {
				setLive('live-wait', 'stream closed: retrying');
				setTimeout(() => {
					if (state.streamOrder === es && gen === state.orderGen)
						openOrderStream(id, gen);
				}, RECONNECT_MS);
			} else {
				setLive('live-wait', 'reconnecting…');
			}
		};
	}

	/* Adds a timeline entry once (by eventId). Returns true when it was new. */
	function addTimelineEntry(e) {
		const key = e.eventId || `${e.type}@${e.at}`;
		if (state.timeline.has(key))
			return false;
		state.timeline.set(key, {type: e.type, at: e.at, details: e.details || {},
			eventId: e.eventId, n: state.arrival++});
		return true;
	}

	function detailText(e) {
		const d = e.details || {};
		if (e.type === 'order.OrderStatusChanged.v1')
			return null;
		const parts = [];
		Object.keys(d).forEach((k) => {
			if (k === 'orderId' || k === 'attempt')
				return;
			const v = d[k];
			if (Array.isArray(v) && v.length && typeof v[0] === 'object' && v[0] && 'sku' in v[0])
				parts.push(`${k}: ${itemsText(v)}`);
			else if (k === 'total' || k === 'amount')
				parts.push(`${k}: ${money(v)}`);
			else if (v !== null && typeof v === 'object')
				parts.push(`${k}: ${JSON.stringify(v)}`);
			else
				parts.push(`${k}: ${v}`);
		});
		return parts.join(' · ');
	}

	function renderTimeline() {
		const list = $('timeline');
		const entries = Array.from(state.timeline.values());
		entries.sort((a, b) => (ms(a.at) - ms(b.at)) || (a.n - b.n));
		const frag = document.createDocumentFragment();
		entries.forEach((e) => {
			const info = TYPE_INFO[e.type] || [e.type, 'ev-status'];
			const status = e.type === 'order.OrderStatusChanged.v1' ? String(e.details.status || '') : '';
			const li = el('li', status && /^[A-Z_]+$/.test(status) ? `t-status st-${status}` : info[1]);
			li.setAttribute('data-testid', 'timeline-entry');
			li.dataset.type = e.type || '';
			const head = el('div', 't-head');
			if (e.type === 'order.OrderStatusChanged.v1') {
				head.appendChild(el('span', 't-type', 'Status →'));
				head.appendChild(statusBadge(e.details.status));
				if (e.details.reason)
					head.appendChild(el('span', 't-detail', e.details.reason));
			} else {
				head.appendChild(el('span', 't-type', info[0]));
			}
			if (e.details && e.details.attempt)
				head.appendChild(el('span', 't-att', `attempt ${e.details.attempt}`));
			const at = el('span', 't-at', clock(ms(e.at)));
			at.title = `${e.at || ''} · ${e.type} · ${e.eventId || ''}`;
			head.appendChild(at);
			li.appendChild(head);
			const text = detailText(e);
			if (text)
				li.appendChild(el('div', 't-detail', text));
			frag.appendChild(li);
		});
		list.textContent = '';
		list.appendChild(frag);
		$('d-count').textContent = `(${entries.length} events)`;
	}

	function renderDetailMeta() {
		const o = state.orders.get(state.selected);
		if (!o)
			return;
		const st = $('d-status');
		st.className = `badge st-${/^[A-Z_]+$/.test(o.status) ? o.status : 'UNKNOWN'}`;
		st.textContent = o.status;
		$('d-attempt').textContent = String(o.attempt || 0);
		$('d-total').textContent = money(o.total);
		$('d-items').textContent = o.units ? `${o.units} units` : '–';
		$('d-created').textContent = o.createdMs ? new Date(o.createdMs).toLocaleString() : '–';
		$('d-took').textContent = duration(took(o));
	}

	/* ---- admin actions ------------------------------------------------------------------ */

	function showMsg(box, kind, title, text) {
		box.hidden = false;
		box.className = `msg ${kind}`;
		box.textContent = '';
		box.appendChild(el('b', null, title));
		box.appendChild(document.createTextNode(text));
	}

	function explain(r) {
		switch (r.status) {
		case 0: return ['error', 'Unreachable:'];
		case 400: return ['error', 'Bad request:'];
		case 401: return ['error', 'Not authorized:'];
		case 403: return ['error', 'Forbidden:'];
		case 404: return ['error', 'Not found:'];
		case 409: return ['refused', 'Refused:'];
		case 503: return ['error', 'Unavailable:'];
		default: return ['error', `HTTP ${r.status}:`];
		}
	}

	async function adminAction(op, arg, button) {
		const id = state.selected;
		const box = $('action-msg');
		if (!id)
			return;
		if (!token()) {
			showMsg(box, 'error', 'No token:', ' paste an admin token above (ecom token, or the one `ecom serve all` printed).');
			return;
		}
		const what = op === 'retry' ? `retry ${arg}` : arg;
		button.disabled = true;
		const r = await call('POST', `admin/${op}/${encodeURIComponent(id)}`,
			op === 'retry' ? {step: arg} : {action: arg}, true);
		button.disabled = false;
		if (r.status === 200) {
			const extra = r.json && typeof r.json.attempt === 'number' ? ` (attempt ${r.json.attempt})` : '';
			showMsg(box, 'ok', 'Accepted:', ` ${what} for ${id}${extra}.`);
		} else {
			const [kind, title] = explain(r);
			showMsg(box, kind, title, ` ${what}: ${errorText(r)}`);
		}
	}

	/* ---- DLQ --------------------------------------------------------------------------------- */

	async function pollMetrics() {
		const r = await fetch('metrics', {cache: 'no-store'}).then((x) => x.text()).catch(() => '');
		const m = /^ecom_dlq_messages(?:\{[^}]*\})? ([0-9.eE+-]+)$/m.exec(r || '');
		$('s-dlq').textContent = m ? String(Math.round(Number(m[1]))) : '–';
	}

	async function loadDlq() {
		const empty = $('dlq-empty');
		const table = $('dlq-table');
		if (!token()) {
			table.hidden = true;
			empty.hidden = false;
			empty.textContent = 'Enter an admin token to see the dead-letter queue.';
			return;
		}
		const r = await call('GET', 'admin/dlq', undefined, true);
		if (r.status !== 200 || !Array.isArray(r.json)) {
			table.hidden = true;
			empty.hidden = false;
			const [, title] = explain(r);
			empty.textContent = `${title} ${errorText(r)}`;
			return;
		}
		renderDlq(r.json);
	}

	function renderDlq(rows) {
		const body = $('dlq-body');
		const now = Date.now();
		body.textContent = '';
		$('dlq-empty').hidden = rows.length > 0;
		$('dlq-empty').textContent = 'No dead letters. Every message was handled.';
		$('dlq-table').hidden = rows.length === 0;
		rows.forEach((d) => {
			const tr = el('tr', d.replayed > 0 ? 'done' : '');
			tr.setAttribute('data-testid', 'dlq-row');
			tr.dataset.id = d.dlqId || '';
			tr.appendChild(el('td', 'id', d.dlqId || '–'));
			tr.appendChild(el('td', null, d.originalType || '–'));
			const order = el('td', 'id', d.orderId || '–');
			if (d.orderId) {
				order.style.cursor = 'pointer';
				order.title = 'open this order';
				order.addEventListener('click', () => selectOrder(d.orderId));
			}
			tr.appendChild(order);
			tr.appendChild(el('td', 'err', d.error || '–'));
			tr.appendChild(el('td', 'when', ago(ms(d.receivedAt), now)));
			tr.appendChild(el('td', null, d.replayed > 0 ? `yes ×${d.replayed}` : 'no'));
			const cell = el('td');
			/* The server replays a dead letter once; a replay that fails again is a new entry. */
			const b = el('button', null, d.replayed > 0 ? 'Replayed' : 'Replay');
			b.type = 'button';
			b.disabled = d.replayed > 0;
			b.title = d.replayed > 0 ? 'already republished once (see the newer entry if it failed again)' :
				'republish the original message to its topic';
			b.setAttribute('data-testid', 'dlq-replay');
			b.addEventListener('click', () => replay({id: d.dlqId}, b));
			cell.appendChild(b);
			tr.appendChild(cell);
			body.appendChild(tr);
		});
	}

	async function replay(selector, button) {
		const box = $('dlq-msg');
		if (!token()) {
			showMsg(box, 'error', 'No token:', ' paste an admin token above.');
			return;
		}
		if (button)
			button.disabled = true;
		const r = await call('POST', 'admin/dlq/replay', selector, true);
		if (button)
			button.disabled = false;
		if (r.status === 200 && r.json) {
			const j = r.json;
			const ids = (j.ids || []).join(', ');
			const skipped = (j.alreadyReplayed || []).length;
			let text = ` ${j.replayed || 0} republished${ids ? ` (${ids})` : ''}`;
			if (skipped)
				text += `; ${skipped} already replayed before (not sent again)`;
			if (j.failed)
				text += `; ${j.failed} failed (the broker did not take them)`;
			showMsg(box, j.failed ? 'refused' : 'ok', 'Replay:', `${text}.`);
		} else {
			const [kind, title] = explain(r);
			showMsg(box, kind, title, ` replay: ${errorText(r)}`);
		}
		loadDlq();
		pollMetrics();
	}

	function scheduleDlq() {
		clearInterval(state.dlqTimer);
		state.dlqTimer = setInterval(() => {
			if (!document.hidden && token())
				loadDlq();
		}, DLQ_POLL_MS);
	}

	/* ---- token --------------------------------------------------------------------------------- */

	function showTokenState() {
		const t = token();
		const s = $('token-state');
		s.className = `token-state${t ? ' set' : ''}`;
		if (!t) {
			s.textContent = 'no token';
			return;
		}
		/* Show when it expires (decoding the payload only; the server checks the signature). */
		let note = 'token set';
		try {
			const p = JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
			if (typeof p.exp === 'number') {
				const left = p.exp * 1000 - Date.now();
				note = left > 0 ? `token set · expires in ${duration(left)}` : 'token expired';
			}
		} catch (e) {
			note = 'token set (not a JWT?)';
		}
		s.textContent = note;
	}

	function setupToken() {
		$('token').value = token();
		showTokenState();
		$('token-form').addEventListener('submit', (ev) => {
			ev.preventDefault();
			try {
				sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
			} catch (e) {
				/* storage disabled: the token lives only in the field */
			}
			showTokenState();
			loadDlq();
		});
		$('token-clear').addEventListener('click', () => {
			try {
				sessionStorage.removeItem(TOKEN_KEY);
			} catch (e) {
				/* nothing stored */
			}
			$('token').value = '';
			showTokenState();
			loadDlq();
		});
	}

	/* ---- wiring ---------------------------------------------------------------------------------- */

	function setup() {
		setupToken();
		$('orders-body').addEventListener('click', (ev) => {
			const tr = ev.target.closest('tr');
			if (!tr || !tr.dataset.id)
				return;
			selectOrder(tr.dataset.id);
			/* One column: the detail is below the list, bring it into view. */
			if (window.matchMedia('(max-width: 960px)').matches)
				$('detail').scrollIntoView({behavior: 'smooth', block: 'start'});
		});
		$('chips').addEventListener('click', (ev) => {
			const b = ev.target.closest('button');
			if (!b)
				return;
			state.filterStatus = state.filterStatus === b.dataset.status ? '' : b.dataset.status;
			render();
		});
		$('filter').addEventListener('input', (ev) => {
			state.filterText = ev.target.value.trim();
			scheduleRender();
		});
		document.querySelectorAll('.actions button').forEach((b) => {
			b.addEventListener('click', () => adminAction(b.dataset.op, b.dataset.arg, b));
		});
		$('dlq-refresh').addEventListener('click', () => {
			loadDlq();
			pollMetrics();
		});
		$('dlq-replay-all').addEventListener('click', (ev) => replay({all: true}, ev.currentTarget));
		window.addEventListener('hashchange', fromHash);
		setInterval(() => {
			render();
			showTokenState();
		}, 1000);
		setInterval(pollMetrics, METRICS_MS);
		scheduleDlq();
	}

	function fromHash() {
		const m = /^#order=(.+)$/.exec(location.hash);
		if (m) {
			const id = decodeURIComponent(m[1]);
			if (id !== state.selected)
				selectOrder(id);
		}
	}

	setup();
	openStreamAll();
	loadOrders().then(fromHash);
	pollMetrics();
	loadDlq();
})();
