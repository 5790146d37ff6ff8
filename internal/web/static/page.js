// page.js: what the checkout page and the operator view share: where the
// API key comes from, money, and the list of orders placed from this browser.

/** sessionStorage key of an API key typed in by hand. */
const API_KEY_STORAGE = 'writepath.apiKey';

/** localStorage key of the ids of orders placed from this browser. */
const RECENT_STORAGE = 'writepath.recentOrders';

/** How many recent orders are remembered. */
const RECENT_MAX = 20;

/**
 * Finds out how the page reaches the API. With serve --demo,
 * /demo/config.json hands out the demo tenant's key; otherwise a key typed
 * into this tab earlier is used, or none.
 * @returns {Promise<{apiKey: string | null, demo: boolean, faults: boolean}>}
 */
export async function loadSettings() {
  try {
    const resp = await fetch('/demo/config.json', { cache: 'no-store' });
    if (resp.ok) {
      const cfg = await resp.json();
      return { apiKey: cfg.api_key, demo: true, faults: Boolean(cfg.faults) };
    }
  } catch {
    // No demo configuration: fall through to a typed key.
  }
  return { apiKey: sessionStorage.getItem(API_KEY_STORAGE), demo: false, faults: false };
}

/**
 * Shows the API key form and resolves with the key typed into it, which is
 * kept in sessionStorage: in this tab only, gone when it closes.
 * @param {string} [message] why the key is asked for
 * @returns {Promise<string>}
 */
export function askForApiKey(message = '') {
  const form = /** @type {HTMLFormElement} */ (document.getElementById('api-key-form'));
  const input = /** @type {HTMLInputElement} */ (document.getElementById('api-key'));
  const error = /** @type {HTMLElement} */ (document.getElementById('api-key-error'));
  error.textContent = message;
  form.hidden = false;
  input.focus();
  return new Promise((resolve) => {
    form.addEventListener('submit', function onSubmit(e) {
      e.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(API_KEY_STORAGE, key);
      form.hidden = true;
      form.removeEventListener('submit', onSubmit);
      resolve(key);
    });
  });
}

/** Forgets a typed API key that the service refused. */
export function forgetApiKey() {
  sessionStorage.removeItem(API_KEY_STORAGE);
}

/**
 * Formats an amount in minor units, such as 5250 usd as "$52.50".
 * @param {number} amount
 * @param {string} currency
 * @returns {string}
 */
export function formatMoney(amount, currency) {
  return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() })
    .format(amount / 100);
}

/**
 * Remembers an order placed from this browser, newest first, for the
 * operator view. The API has no list of orders; this browser's own are
 * enough for a demo.
 * @param {string} id
 */
export function rememberOrder(id) {
  const ids = recentOrders().filter((x) => x !== id);
  ids.unshift(id);
  localStorage.setItem(RECENT_STORAGE, JSON.stringify(ids.slice(0, RECENT_MAX)));
}

/**
 * The ids of orders placed from this browser, newest first.
 * @returns {string[]}
 */
export function recentOrders() {
  try {
    const ids = JSON.parse(localStorage.getItem(RECENT_STORAGE) ?? '[]');
    return Array.isArray(ids) ? ids.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/**
 * Creates an element with text and attributes, for tables built in code.
 * @param {string} tag
 * @param {string} [text]
 * @param {Record<string, string>} [attrs]
 * @returns {HTMLElement}
 */
export function el(tag, text = '', attrs = {}) {
  const e = document.createElement(tag);
  e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}
