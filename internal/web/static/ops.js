// ops.js: the operator's view. Every second it reads GET /v1/status
// (breakers, queues), the recent orders of this browser, and with --demo the
// provider's faults, which it can also switch.

import { Client, describeOrder } from './writepath-client.js';
import { askForApiKey, el, forgetApiKey, loadSettings, recentOrders } from './page.js';

const REFRESH_MS = 1000;

/** How many recent orders are read on each refresh. */
const ORDERS_SHOWN = 10;

/** The fake provider's fault modes, with what each does. */
const MODES = {
  normal: 'answers normally',
  down: 'refuses before executing',
  hang: 'never answers',
  error: 'answers 500 at the error rate',
  rate_limited: 'answers 429',
  drop_after_charge: 'charges, then drops the answer',
};

const $ = (id) => /** @type {any} */ (document.getElementById(id));

/** @type {Client} */
let client;

/** Renders the breakers, each with its countdown and a manual switch. */
function renderBreakers(breakers) {
  const rows = breakers.map((b) => {
    const tr = el('tr');
    const state = b.forced ? 'held open' : b.state.replace(/_/g, '-');
    let probe = '-';
    if (b.forced) probe = 'when released';
    else if (b.state === 'open' && b.next_probe_in_seconds > 0) {
      probe = `in ${b.next_probe_in_seconds} s`;
    } else if (b.state === 'half_open') probe = 'now';
    const sw = el('td');
    const action = b.forced ? 'Automatic' : 'Hold open';
    const btn = el('button', action, { type: 'button', class: 'small secondary',
      'aria-label': `${action}: ${b.name}` });
    btn.onclick = () => switchBreaker(b.name, b.forced ? 'auto' : 'open');
    sw.append(btn);
    tr.append(el('th', b.name, { scope: 'row' }),
      el('td', state, { class: `state state-${b.forced ? 'open' : b.state}`,
        title: b.forced ? 'An operator holds it open: every call is refused, unsent.' : '' }),
      el('td', probe), sw);
    return tr;
  });
  $('breakers').replaceChildren(...rows);
}

async function switchBreaker(name, state) {
  const a = await client.request('PUT', `/v1/breakers/${encodeURIComponent(name)}`,
    { body: { state } });
  if (a.status !== 200) $('ops-error').textContent = a.body?.detail ?? `answered ${a.status}`;
  await refresh();
}

function renderQueues(queues) {
  $('queues').replaceChildren(...queues.map((q) => {
    const tr = el('tr');
    tr.append(el('th', q.queue, { scope: 'row' }),
      el('td', String(q.depth), { class: 'num' }), el('td', String(q.ready), { class: 'num' }),
      el('td', `${q.oldest_age_seconds.toFixed(1)} s`, { class: 'num' }),
      el('td', q.drain_per_second.toFixed(1), { class: 'num' }));
    return tr;
  }));
}

async function renderOrders() {
  const ids = recentOrders().slice(0, ORDERS_SHOWN);
  const answers = await Promise.all(ids.map((id) => client.getOrder(id).catch(() => null)));
  const rows = [];
  answers.forEach((a, i) => {
    const tr = el('tr');
    if (!a || a.status !== 200) {
      tr.append(el('th', ids[i], { scope: 'row' }), el('td', a ? `not readable (${a.status})`
        : 'no answer', { colspan: '4' }));
      rows.push(tr);
      return;
    }
    const o = a.body;
    const effects = o.side_effects.map((e) => `${e.kind.replace(/_/g, ' ')}: ${e.status}`);
    tr.append(el('th', o.id, { scope: 'row' }),
      el('td', o.status, { class: `state state-${o.status}`, title: describeOrder(o).text }),
      el('td', o.payment.status.replace(/_/g, ' ')),
      el('td', effects.join(', ') || '-'),
      el('td', new Date(o.updated_at).toLocaleTimeString()));
    rows.push(tr);
  });
  if (rows.length === 0) {
    const tr = el('tr');
    tr.append(el('td', 'No orders placed from this browser yet.', { colspan: '5' }));
    rows.push(tr);
  }
  $('orders').replaceChildren(...rows);
}

function setupFaults() {
  const modes = $('fault-modes');
  for (const [mode, what] of Object.entries(MODES)) {
    const label = el('label', '', { class: 'choice' });
    const input = el('input', '', { type: 'radio', name: 'mode', value: mode });
    label.append(input, ` ${mode.replace(/_/g, ' ')} `, el('span', what, { class: 'hint' }));
    modes.append(label);
  }
  $('faults-form').onsubmit = async (e) => {
    e.preventDefault();
    const form = e.target;
    const body = {
      mode: form.elements.mode.value || 'normal',
      latency_ms: Number($('latency').value) || 0,
      error_rate: Number($('error-rate').value) || 0,
    };
    const resp = await fetch('/demo/faults', { method: 'PUT', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' } });
    const answer = await resp.json().catch(() => null);
    $('ops-error').textContent = resp.ok ? ''
      : `The provider refused: ${answer?.error?.message ?? answer?.detail ?? resp.status}`;
    await showFaults(true);
  };
  void showFaults(true);
}

/** Shows the faults in force; fill also resets the form to them. */
async function showFaults(fill = false) {
  const resp = await fetch('/demo/faults', { cache: 'no-store' });
  if (!resp.ok) return;
  const f = await resp.json();
  let now = f.mode;
  if (f.latency_ms) now += `, ${f.latency_ms} ms latency`;
  if (f.mode === 'error') now += `, error rate ${f.error_rate}`;
  $('faults-now').textContent = now;
  if (fill) {
    const radio = $('faults-form').querySelector(`input[value="${CSS.escape(f.mode)}"]`);
    if (radio) radio.checked = true;
    $('latency').value = String(f.latency_ms);
    $('error-rate').value = String(f.error_rate);
  }
}

let faultsOn = false;

async function refresh() {
  const a = await client.request('GET', '/v1/status');
  if (a.status === 401) throw new Error('unauthorized');
  if (a.status !== 200) throw new Error(a.body?.detail ?? `status answered ${a.status}`);
  renderBreakers(a.body.breakers ?? []);
  renderQueues(a.body.queues ?? []);
  await renderOrders();
  if (faultsOn) await showFaults();
  $('updated').textContent = `Last update ${new Date().toLocaleTimeString()}.`;
}

/** Refreshes every second, one refresh at a time. */
async function loop() {
  try {
    await refresh();
    $('ops-error').textContent = '';
  } catch (e) {
    if (e instanceof Error && e.message === 'unauthorized') {
      forgetApiKey();
      client = new Client({ apiKey: await askForApiKey('That API key was refused.') });
    } else {
      $('ops-error').textContent = `Could not refresh: ${e instanceof Error ? e.message : e}`;
    }
  }
  setTimeout(loop, REFRESH_MS);
}

async function main() {
  const settings = await loadSettings();
  $('demo-badge').hidden = !settings.demo;
  faultsOn = settings.faults;
  $('faults-panel').hidden = !faultsOn;
  if (faultsOn) setupFaults();
  client = new Client({ apiKey: settings.apiKey ?? await askForApiKey() });
  await loop();
}

void main();
