// checkout.js: the checkout page. It builds the order from a fixed cart,
// hands it to a Checkout from writepath-client.js, and shows what the
// service reports, in the words describe() picks.

import { Checkout, Client, describe } from './writepath-client.js';
import {
  askForApiKey, el, forgetApiKey, formatMoney, loadSettings, rememberOrder,
} from './page.js';

/** The cart: fixed, in minor units of CURRENCY. */
const CART = [
  { sku: 'tea-01', name: 'Sencha green tea, 100 g', quantity: 2, unit_amount: 1250 },
  { sku: 'mug-02', name: 'Stoneware mug', quantity: 1, unit_amount: 1800 },
  { sku: 'honey-03', name: 'Wildflower honey', quantity: 1, unit_amount: 950 },
];
const CURRENCY = 'usd';

/** The provider's test tokens, as the page names them. */
const METHODS = {
  pm_card_visa: 'Visa ending 4242',
  pm_card_chargeDeclined: 'Card that is declined',
  pm_card_chargeDeclinedInsufficientFunds: 'Card without funds',
};

const $ = (id) => /** @type {any} */ (document.getElementById(id));

/** The order request for the cart and the form's choices. */
function orderRequest() {
  const form = $('checkout-form');
  return {
    currency: CURRENCY,
    customer: { email: $('email').value.trim() },
    items: CART.map(({ sku, quantity, unit_amount }) => ({ sku, quantity, unit_amount })),
    payment_method: form.elements.payment_method.value,
  };
}

function renderCart() {
  const body = $('cart-lines');
  for (const line of CART) {
    const tr = el('tr');
    tr.append(el('td', line.name), el('td', String(line.quantity), { class: 'num' }),
      el('td', formatMoney(line.quantity * line.unit_amount, CURRENCY), { class: 'num' }));
    body.append(tr);
  }
  const total = CART.reduce((sum, l) => sum + l.quantity * l.unit_amount, 0);
  $('cart-total').textContent = formatMoney(total, CURRENCY);
}

/** Locks the form while a checkout is under way, showing what it sent. */
function lockForm(locked, request = null) {
  const form = $('checkout-form');
  for (const input of form.querySelectorAll('input, button')) input.disabled = locked;
  if (request) {
    $('email').value = request.customer.email;
    const radio = form.querySelector(`input[value="${CSS.escape(request.payment_method)}"]`);
    if (radio) radio.checked = true;
  }
}

/** Shows the state of the checkout. */
function render(state) {
  const d = describe(state);
  $('progress').hidden = state.phase === 'idle';
  $('progress').dataset.phase = state.phase;
  $('progress').dataset.autoRetry = String(state.autoRetrying);

  const status = $('status');
  if (status.textContent !== d.text) status.textContent = d.text; // announced once
  status.dataset.tone = d.tone;

  $('retry').hidden = d.retry !== 'same-key';
  $('pay-again').hidden = d.retry !== 'new-method';
  $('new-order').hidden = !d.final;
  renderRetryNote(state);
  renderFacts(state);
  if (state.orderId) rememberOrder(state.orderId);
}

let retryNoteTimer = 0;

/** Counts down to an automatic retry, so that waiting is visible. */
function renderRetryNote(state) {
  clearInterval(retryNoteTimer);
  const note = $('retry-note');
  const show = () => {
    const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    note.textContent = `Trying again automatically in ${s} s.`;
  };
  if (!state.autoRetrying || !state.retryAt) {
    note.textContent = '';
    return;
  }
  show();
  retryNoteTimer = setInterval(show, 250);
}

function renderFacts(state) {
  const facts = $('order-facts');
  facts.replaceChildren();
  const add = (term, value, id) => {
    facts.append(el('dt', term), el('dd', value, id ? { id } : {}));
  };
  const o = state.order;
  if (o) {
    add('Order', o.id, 'order-id');
    add('Total', formatMoney(o.amount, o.currency));
    add('Paying with', METHODS[o.payment.payment_method] ?? o.payment.payment_method);
    add('Payment', o.payment.status.replace(/_/g, ' '));
    for (const e of o.side_effects) {
      add(e.kind === 'confirmation_email' ? 'Confirmation email' : e.kind.replace(/_/g, ' '),
        e.status);
    }
  } else if (state.paymentMethod) {
    add('Paying with', METHODS[state.paymentMethod] ?? state.paymentMethod);
  }
  if (state.problem?.detail && state.phase !== 'submitting') {
    add('The shop said', state.problem.detail);
  }
}

/** Starts the page once an API key is known. */
async function start(apiKey) {
  const checkout = new Checkout({
    client: new Client({ apiKey }),
    onChange: (state) => {
      render(state);
      if (state.phase === 'rejected' && state.problem?.status === 401) {
        checkout.reset();
        forgetApiKey();
        lockForm(true);
        void askForApiKey('That API key was refused. Enter another.').then((key) => {
          checkout.close();
          void start(key);
        });
      }
    },
  });

  $('checkout-form').onsubmit = (e) => {
    e.preventDefault();
    if (!e.target.reportValidity()) return;
    const req = orderRequest();
    lockForm(true); // disabled at once: a second click cannot submit again
    void checkout.submit(req); // and if it did, submit reuses the same key
    $('progress').scrollIntoView({ block: 'nearest' });
  };
  $('retry').onclick = () => void checkout.retry();
  $('pay-again').onsubmit = (e) => {
    e.preventDefault();
    void checkout.payAgain($('pay-again-method').value);
  };
  $('new-order').onclick = () => {
    checkout.reset();
    lockForm(false);
    $('place-order').focus();
  };

  if (checkout.active) {
    lockForm(true, checkout.state.request);
    await checkout.resume(); // after a reload: the same key, the same order
  } else {
    lockForm(false);
  }
}

async function main() {
  renderCart();
  lockForm(true);
  const settings = await loadSettings();
  $('demo-badge').hidden = !settings.demo;
  await start(settings.apiKey ?? await askForApiKey());
}

void main();
