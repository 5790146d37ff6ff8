// writepath-client.js: the browser's client of the writepath API.
//
// Plain ES module, no dependencies. Three layers:
//   - Client: one authenticated request, or one with automatic retries of
//     what is safe to retry; and following an order through its event stream.
//   - Checkout: one logical checkout, kept in sessionStorage so that double
//     clicks, network errors and reloads all reuse its idempotency key.
//   - describe(): the words the UI shows for a checkout's state, following
//     section 4 of the spec literally.
//
// Type declarations: writepath-client.d.ts next to this file.

/** Where the current checkout is kept, in sessionStorage by default. */
export const CHECKOUT_STORAGE_KEY = 'writepath.checkout';

/**
 * Default retry policy: up to 5 attempts within 30 s, full-jitter backoff
 * from 300 ms doubling up to 5 s, never sooner than the server's Retry-After
 * (except a 409's, capped at 2 s: see maxInUseWaitMs).
 */
export const DEFAULT_RETRY = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 300,
  maxDelayMs: 5000,
  maxElapsedMs: 30000,
  // A 409 idempotency-key-in-use carries the time left on the first
  // request's lease: when a retry could take it over if it died, not when its
  // answer will be ready, which is usually within a second. Checking back
  // sooner is safe with the same key (the answer is 409 again, or the
  // result), so the client waits at most this long.
  maxInUseWaitMs: 2000,
});

/** How often an order is polled when its event stream is unavailable. */
const POLL_MS = 1000;

/** Event-stream failures in a row after which the client polls instead. */
const STREAM_FAILURES_BEFORE_POLLING = 3;

/**
 * Returns a new idempotency key: a random UUID. crypto.randomUUID exists
 * only in secure contexts (https, localhost), so elsewhere the key is built
 * from crypto.getRandomValues, which exists everywhere.
 * @returns {string}
 */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-` +
    `${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Parses a Retry-After header (delay seconds or an HTTP date) into
 * milliseconds; null when absent or unreadable.
 * @param {string | null} value
 * @param {number} [now]
 * @returns {number | null}
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (value == null || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The delay before retry number attempt+1 (attempt counts from 0): "full
 * jitter", a uniform pick below an exponentially growing ceiling, so that
 * many clients do not retry in step; but never sooner than Retry-After.
 * @param {number} attempt
 * @param {{baseDelayMs: number, maxDelayMs: number}} policy
 * @param {number | null} retryAfterMs
 * @param {() => number} [random]
 * @returns {number}
 */
export function backoffDelay(attempt, policy, retryAfterMs, random = Math.random) {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.max(Math.round(random() * ceiling), retryAfterMs ?? 0);
}

/**
 * The name of a problem: its type without "/problems/"; "" for none.
 * @param {{type?: string} | null | undefined} problem
 * @returns {string}
 */
export function problemName(problem) {
  const type = problem?.type ?? '';
  return type.slice(type.lastIndexOf('/') + 1);
}

/**
 * Reports whether an order will not change any more: final, with every side
 * effect done or dead. The server ends an event stream at the same point.
 * @param {{status: string, side_effects?: {status: string}[]}} order
 * @returns {boolean}
 */
export function isSettled(order) {
  if (order.status !== 'completed' && order.status !== 'failed') return false;
  return (order.side_effects ?? []).every((e) => e.status === 'done' || e.status === 'dead');
}

/**
 * Reports whether an answer may be retried with the same idempotency key:
 * nothing was stored (409 in use, 429, the two 503s) or the service failed
 * (5xx), so the same request can only finish what the first one started.
 * @param {number} status
 * @param {string} name the problem's name
 * @returns {boolean}
 */
export function isRetryable(status, name) {
  if (status === 409) return name === 'idempotency-key-in-use';
  return status === 429 || status === 500 || status === 502 || status === 503 ||
    status === 504;
}

/** Resolves after ms, or rejects with the signal's reason once aborted. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(t);
      reject(signal.reason);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Reads Server-Sent Events from a response body, yielding each event as
 * {event, id, data}. Comments (keep-alives) are skipped; a retry field,
 * which sets the reconnection delay whether or not an event follows, goes
 * to onRetry.
 * @param {ReadableStream<Uint8Array>} body
 * @param {(ms: number) => void} [onRetry]
 */
export async function* readServerSentEvents(body, onRetry = () => {}) {
  const decoder = /** @type {TransformStream<Uint8Array, string>} */ (new TextDecoderStream());
  const reader = body.pipeThrough(decoder).getReader();
  let buffer = '';
  let ev = { event: 'message', id: null, data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? ''; // an unfinished line waits for more
      for (const line of lines) {
        if (line === '') {
          if (ev.data.length > 0) yield { ...ev, data: ev.data.join('\n') };
          ev = { event: 'message', id: ev.id, data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let v = colon < 0 ? '' : line.slice(colon + 1);
        if (v.startsWith(' ')) v = v.slice(1);
        if (field === 'event') ev.event = v;
        else if (field === 'data') ev.data.push(v);
        else if (field === 'id') ev.id = v;
        else if (field === 'retry' && /^\d+$/.test(v)) onRetry(Number(v));
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * An answer of the API: its status, its JSON body (an order, a problem or
 * anything else), whether it was an idempotent replay, and Retry-After.
 * @typedef {{status: number, body: any, replayed: boolean,
 *   retryAfterMs: number | null}} Answer
 */

/** Client talks to the writepath API with one tenant's API key. */
export class Client {
  /**
   * @param {{apiKey: string, baseUrl?: string, retry?: Partial<typeof DEFAULT_RETRY>,
   *   fetch?: typeof fetch}} options
   */
  constructor({ apiKey, baseUrl = '', retry = {}, fetch: f } = /** @type {any} */ ({})) {
    this.apiKey = apiKey;
    this.baseUrl = baseUrl.replace(/\/$/, '');
    this.retry = { ...DEFAULT_RETRY, ...retry };
    this.fetch = f ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * Sends one request, without retries. A network failure rejects; any
   * HTTP answer resolves.
   * @param {string} method
   * @param {string} path
   * @param {{body?: any, idempotencyKey?: string, signal?: AbortSignal}} [options]
   * @returns {Promise<Answer>}
   */
  async request(method, path, { body, idempotencyKey, signal } = {}) {
    const headers = { Authorization: `Bearer ${this.apiKey}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
    const resp = await this.fetch(this.baseUrl + path, {
      method, headers, signal, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await resp.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { detail: text };
    }
    return {
      status: resp.status,
      body: parsed,
      replayed: resp.headers.get('Idempotent-Replayed') === 'true',
      retryAfterMs: parseRetryAfter(resp.headers.get('Retry-After')),
    };
  }

  /**
   * Sends a request and retries it, with the same idempotency key, on
   * network errors and on answers isRetryable accepts, with full-jitter
   * backoff honouring Retry-After, within the retry policy; a Retry-After
   * longer than the budget left ends the retries with that answer. onRetry
   * hears of each wait before it starts. It resolves with the last answer;
   * it rejects only when every attempt failed on the network, or when
   * aborted.
   * @param {string} method
   * @param {string} path
   * @param {{body?: any, idempotencyKey?: string, signal?: AbortSignal,
   *   onRetry?: (info: {attempt: number, delayMs: number, answer: Answer | null,
   *   error: unknown}) => void}} [options]
   * @returns {Promise<Answer>}
   */
  async requestWithRetry(method, path, options = {}) {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      let answer = null;
      let error = null;
      try {
        answer = await this.request(method, path, options);
      } catch (e) {
        if (options.signal?.aborted) throw e;
        error = e;
      }
      if (answer && !isRetryable(answer.status, problemName(answer.body))) return answer;

      let retryAfterMs = answer?.retryAfterMs ?? null;
      if (answer?.status === 409 && retryAfterMs != null) {
        retryAfterMs = Math.min(retryAfterMs, this.retry.maxInUseWaitMs);
      }
      const delayMs = backoffDelay(attempt, this.retry, retryAfterMs);
      const outOfBudget = attempt + 1 >= this.retry.maxAttempts ||
        Date.now() - started + delayMs > this.retry.maxElapsedMs;
      if (outOfBudget) {
        if (answer) return answer;
        throw error;
      }
      options.onRetry?.({ attempt, delayMs, answer, error });
      await sleep(delayMs, options.signal);
    }
  }

  /**
   * Reads an order once.
   * @param {string} id
   * @param {{signal?: AbortSignal}} [options]
   * @returns {Promise<Answer>}
   */
  getOrder(id, { signal } = {}) {
    return this.request('GET', `/v1/orders/${encodeURIComponent(id)}`, { signal });
  }

  /**
   * Follows an order until it is settled or the signal aborts, calling
   * onOrder with each new version. It reads GET /v1/orders/{id}/events with
   * fetch, which can send the Authorization header (EventSource cannot), and
   * resumes a broken stream with Last-Event-ID; after repeated failures, or
   * where response streaming is missing, it polls GET /v1/orders/{id}. It
   * resolves with the settled order, and rejects on an answer that will not
   * change by waiting (401, 404) or when aborted.
   * @param {string} id
   * @param {{onOrder: (order: any) => void, signal?: AbortSignal, since?: number,
   *   onMode?: (mode: 'stream' | 'poll') => void}} options
   * @returns {Promise<any>}
   */
  async watchOrder(id, { onOrder, signal, since = 0, onMode }) {
    const seen = { version: since, last: null };
    const accept = (order) => {
      if (order.version > seen.version || seen.last === null) {
        seen.version = Math.max(seen.version, order.version);
        seen.last = order;
        onOrder(order);
      }
    };
    let failures = 0;
    let reconnectMs = 2000;
    while (failures < STREAM_FAILURES_BEFORE_POLLING) {
      onMode?.('stream');
      try {
        const resp = await this.fetch(
          `${this.baseUrl}/v1/orders/${encodeURIComponent(id)}/events`, {
            headers: {
              Authorization: `Bearer ${this.apiKey}`, Accept: 'text/event-stream',
              ...(seen.version > 0 ? { 'Last-Event-ID': String(seen.version) } : {}),
            },
            signal, cache: 'no-store',
          });
        if (resp.status === 401 || resp.status === 404) {
          throw new WatchError(resp.status, await resp.json().catch(() => null));
        }
        if (!resp.ok || !resp.body) {
          // No stream here (an old browser, a buffering proxy): poll.
          failures = STREAM_FAILURES_BEFORE_POLLING;
          break;
        }
        let events = 0;
        for await (const ev of readServerSentEvents(resp.body, (ms) => { reconnectMs = ms; })) {
          if (ev.event !== 'order') continue;
          events++;
          accept(JSON.parse(ev.data));
          failures = 0;
          if (isSettled(seen.last)) return seen.last;
        }
        // The server ended the stream: settled, or shutting down. A stream
        // that ends at once had nothing newer than `since` to say; one read
        // tells whether the order is settled at that version.
        if (events === 0) {
          const a = await this.getOrder(id, { signal });
          if (a.status === 200) accept(a.body);
        }
        if (seen.last && isSettled(seen.last)) return seen.last;
      } catch (e) {
        if (signal?.aborted || e instanceof WatchError) throw e;
        failures++;
      }
      await sleep(failures > 0 ? backoffDelay(failures, this.retry, null) : reconnectMs, signal);
    }
    onMode?.('poll');
    return this.#poll(id, accept, seen, signal);
  }

  async #poll(id, accept, seen, signal) {
    for (;;) {
      try {
        const a = await this.getOrder(id, { signal });
        if (a.status === 401 || a.status === 404) throw new WatchError(a.status, a.body);
        if (a.status === 200) {
          accept(a.body);
          if (isSettled(seen.last)) return seen.last;
        }
      } catch (e) {
        if (signal?.aborted || e instanceof WatchError) throw e;
      }
      await sleep(POLL_MS, signal);
    }
  }
}

/** WatchError is an answer that following an order cannot get past. */
export class WatchError extends Error {
  /**
   * @param {number} status
   * @param {any} problem
   */
  constructor(status, problem) {
    super(problem?.detail ?? `the order answered ${status}`);
    this.name = 'WatchError';
    this.status = status;
    this.problem = problem;
  }
}

/**
 * The state of a checkout, as Checkout reports it to onChange.
 * @typedef {{
 *   phase: 'idle' | 'submitting' | 'unavailable' | 'gave-up' | 'rejected' | 'order',
 *   order: any | null, problem: any | null, orderId: string | null,
 *   autoRetrying: boolean, retryAt: number | null, replayed: boolean,
 *   request: any | null, paymentMethod: string | null
 * }} CheckoutState
 */

/**
 * Checkout is one logical checkout: one order request under one
 * idempotency key, and the payments made for that order afterwards, each
 * under a key of its own. Its record lives in storage (sessionStorage by
 * default), so that a reload resumes it: the same key, the same order.
 */
export class Checkout {
  #client;
  #storage;
  #storageKey;
  #onChange;
  /** @type {CheckoutState} */
  #state;
  /** @type {AbortController | null} aborts the running send and its waits */
  #sending = null;
  /** @type {AbortController | null} aborts following the order */
  #watching = null;
  /** @type {Promise<void> | null} the running send, shared by double clicks */
  #inflight = null;

  /**
   * @param {{client: Client, storage?: Storage, storageKey?: string,
   *   onChange?: (state: CheckoutState) => void}} options
   */
  constructor({ client, storage = sessionStorage, storageKey = CHECKOUT_STORAGE_KEY,
    onChange = () => {} }) {
    this.#client = client;
    this.#storage = storage;
    this.#storageKey = storageKey;
    this.#onChange = onChange;
    const rec = this.#record();
    this.#state = {
      phase: 'idle', order: null, problem: null, orderId: rec?.orderId ?? null,
      autoRetrying: false, retryAt: null, replayed: false, request: rec?.request ?? null,
      paymentMethod: rec?.pay?.payment_method ?? rec?.request?.payment_method ?? null,
    };
  }

  /** @returns {CheckoutState} the latest state. */
  get state() {
    return this.#state;
  }

  /** @returns {boolean} whether a checkout is under way or shown. */
  get active() {
    return this.#record() !== null;
  }

  /**
   * Places the order. The first call starts the logical checkout and fixes
   * its idempotency key; later calls (a double click) neither send another
   * request nor make another key, they wait for the same outcome.
   * @param {any} request the body of POST /v1/orders
   * @returns {Promise<void>}
   */
  submit(request) {
    if (this.#inflight) return this.#inflight;
    if (this.#record()) return Promise.resolve();
    this.#save({ key: newIdempotencyKey(), request, orderId: null, pay: null });
    return this.#sendOrder();
  }

  /**
   * Sends the current request again at once, with the same key: the retry
   * the UI offers when payments were unavailable or retries ran out.
   * @returns {Promise<void>}
   */
  retry() {
    const rec = this.#record();
    if (!rec) return Promise.resolve();
    this.#sending?.abort(); // skips the wait of an automatic retry
    this.#inflight = null;
    return rec.pay ? this.#sendPayment() : rec.orderId ? this.#refresh() : this.#sendOrder();
  }

  /**
   * Pays a declined order again with another payment method, under a new
   * idempotency key kept until the answer arrives.
   * @param {string} paymentMethod
   * @returns {Promise<void>}
   */
  payAgain(paymentMethod) {
    if (this.#inflight) return this.#inflight;
    const rec = this.#record();
    if (!rec?.orderId) return Promise.resolve();
    rec.pay = { key: newIdempotencyKey(), payment_method: paymentMethod };
    this.#save(rec);
    return this.#sendPayment();
  }

  /**
   * Picks a stored checkout up after a reload: resends a request that had
   * no answer yet (same key), or reads and follows the order it created.
   * Resolves false when there is nothing to resume.
   * @returns {Promise<boolean>}
   */
  async resume() {
    const rec = this.#record();
    if (!rec) return false;
    if (rec.pay) await this.#sendPayment();
    else if (rec.orderId) await this.#refresh();
    else await this.#sendOrder();
    return true;
  }

  /** Forgets the checkout, so that the next submit starts a new one. */
  reset() {
    this.close();
    this.#storage.removeItem(this.#storageKey);
    this.#set({ phase: 'idle', order: null, problem: null, orderId: null, request: null,
      autoRetrying: false, retryAt: null, replayed: false, paymentMethod: null });
  }

  /** Stops sending and following, keeping the stored checkout. */
  close() {
    this.#sending?.abort();
    this.#watching?.abort();
    this.#inflight = null;
  }

  /** @returns {{key: string, request: any, orderId: string | null,
   *   pay: {key: string, payment_method: string} | null} | null} */
  #record() {
    try {
      return JSON.parse(this.#storage.getItem(this.#storageKey) ?? 'null');
    } catch {
      return null;
    }
  }

  #save(rec) {
    this.#storage.setItem(this.#storageKey, JSON.stringify(rec));
  }

  #set(patch) {
    this.#state = { ...this.#state, ...patch };
    this.#onChange(this.#state);
  }

  #sendOrder() {
    const rec = this.#record();
    this.#set({ request: rec.request, paymentMethod: rec.request.payment_method });
    return this.#send('POST', '/v1/orders', rec.request, rec.key);
  }

  #sendPayment() {
    const rec = this.#record();
    this.#set({ paymentMethod: rec.pay.payment_method });
    return this.#send('POST', `/v1/orders/${encodeURIComponent(rec.orderId)}/payments`,
      { payment_method: rec.pay.payment_method }, rec.pay.key);
  }

  /** Sends a write with automatic retries and reports where it ends. */
  #send(method, path, body, key) {
    this.#sending?.abort();
    const ac = new AbortController();
    this.#sending = ac;
    this.#set({ phase: 'submitting', problem: null, autoRetrying: false, retryAt: null });

    const run = async () => {
      let answer;
      try {
        answer = await this.#client.requestWithRetry(method, path, {
          body, idempotencyKey: key, signal: ac.signal,
          onRetry: ({ delayMs, answer: a }) => this.#retrying(a, delayMs),
        });
      } catch (e) {
        if (ac.signal.aborted) return;
        this.#set({ phase: 'gave-up', problem: null, autoRetrying: false, retryAt: null });
        return;
      } finally {
        if (this.#sending === ac) this.#inflight = null;
      }
      if (ac.signal.aborted) return;
      this.#answered(answer);
    };
    this.#inflight = run();
    return this.#inflight;
  }

  /** Shows what the service said while an automatic retry waits. */
  #retrying(answer, delayMs) {
    const unavailable = problemName(answer?.body) === 'payments-unavailable';
    this.#set({
      phase: unavailable ? 'unavailable' : 'submitting',
      problem: unavailable ? answer.body : null,
      autoRetrying: true, retryAt: Date.now() + delayMs,
    });
  }

  /** Takes the final answer of a write. */
  #answered(answer) {
    const rec = this.#record();
    if (!rec) return;
    const name = problemName(answer.body);
    if (answer.body?.id && [200, 201, 202, 402].includes(answer.status)) {
      rec.orderId = answer.body.id;
      rec.pay = null; // this payment has its answer; its key is spent
      this.#save(rec);
      this.#showOrder(answer.body, answer.replayed);
      return;
    }
    if (name === 'payments-unavailable') {
      this.#set({ phase: 'unavailable', problem: answer.body, autoRetrying: false,
        retryAt: null });
      return;
    }
    if (isRetryable(answer.status, name)) {
      this.#set({ phase: 'gave-up', problem: answer.body, autoRetrying: false, retryAt: null });
      return;
    }
    if (rec.pay) {
      // The payment was refused (e.g. order-not-payable): show the order as
      // it is now, with the reason.
      rec.pay = null;
      this.#save(rec);
      this.#set({ problem: answer.body });
      void this.#refresh(answer.body);
      return;
    }
    this.#set({ phase: 'rejected', problem: answer.body, autoRetrying: false, retryAt: null });
  }

  #showOrder(order, replayed = false) {
    this.#set({ phase: 'order', order, orderId: order.id, autoRetrying: false, retryAt: null,
      replayed });
    if (!isSettled(order)) this.#watch(order);
  }

  /** Reads the stored order again and follows it. */
  async #refresh(problem = null) {
    const rec = this.#record();
    if (!rec?.orderId) return;
    this.#sending?.abort();
    const ac = new AbortController();
    this.#sending = ac;
    let answer;
    try {
      answer = await this.#client.requestWithRetry('GET',
        `/v1/orders/${encodeURIComponent(rec.orderId)}`, { signal: ac.signal });
    } catch {
      if (!ac.signal.aborted) this.#set({ phase: 'gave-up', autoRetrying: false });
      return;
    }
    if (answer.status === 200) {
      this.#showOrder(answer.body);
      if (problem) this.#set({ problem });
    } else {
      this.#set({ phase: 'rejected', problem: answer.body, autoRetrying: false });
    }
  }

  #watch(order) {
    this.#watching?.abort();
    const ac = new AbortController();
    this.#watching = ac;
    this.#client.watchOrder(order.id, {
      since: order.version, signal: ac.signal,
      onOrder: (o) => {
        if (!ac.signal.aborted && o.version >= (this.#state.order?.version ?? 0)) {
          this.#set({ phase: 'order', order: o, orderId: o.id });
        }
      },
    }).catch((e) => {
      if (!ac.signal.aborted) this.#set({ problem: e.problem ?? { detail: String(e) } });
    });
  }
}

/**
 * What the UI says about a checkout: the words, the retry it offers, a tone
 * for styling, and whether nothing more will happen on its own.
 * @typedef {{text: string, retry: 'same-key' | 'new-method' | null,
 *   tone: 'progress' | 'good' | 'bad', final: boolean}} Description
 */

/** Human reasons for the provider's decline codes. */
const DECLINE_REASONS = {
  generic_decline: 'your bank did not approve the payment',
  insufficient_funds: 'insufficient funds',
  lost_card: 'the card was reported lost',
  stolen_card: 'the card was reported stolen',
  expired_card: 'the card has expired',
  incorrect_cvc: 'the security code is incorrect',
  do_not_honor: 'your bank did not approve the payment',
};

/**
 * Why a failed order was declined, for "Your card was declined: reason."
 * @param {{code: string, decline_code?: string, message?: string}} failure
 * @returns {string}
 */
export function declineReason(failure) {
  const known = DECLINE_REASONS[failure.decline_code ?? ''];
  if (known) return known;
  if (failure.code === 'invalid_payment_method') return 'this payment method cannot be used';
  const msg = (failure.message ?? '').trim().replace(/\.$/, '');
  return msg ? msg[0].toLowerCase() + msg.slice(1) : 'no reason was given';
}

/**
 * What the UI says about a checkout, and which retry it offers.
 *
 * The mapping follows the table of section 4 of the spec literally; the
 * words depend on what the server reported, never on a guess:
 *
 *   submitting (sending, or retrying on its own)      Placing your order...
 *   503 payments-unavailable (reject policy: the
 *     breaker is open, nothing was written or sent)   not charged; retry, same key
 *   order pending or queued (also queued with
 *     payment deferred: accepted, charged later)      accepted, still processed
 *   order processing, payment unknown                 don't pay again
 *   order processing, payment in flight               accepted, still processed
 *   order failed, declined (card_declined or
 *     invalid_payment_method)                         declined: reason; another
 *                                                     method, new key
 *   order completed, email queued/running/retrying    email on its way
 *   order completed, email done                       we've emailed you
 *
 * Beyond the table, worded as narrowly as what is known: an order failed
 * with payment_unavailable (not charged; the order cannot be paid again, so
 * no retry), a completed order whose email is dead, retries that ran out
 * without an answer (the same key can be sent again safely) and a request
 * the service refused (its detail).
 *
 * @param {CheckoutState} state
 * @returns {Description}
 */
export function describe(state) {
  switch (state.phase) {
    case 'idle':
      return { text: '', retry: null, tone: 'progress', final: false };
    case 'submitting':
      return { text: 'Placing your order...', retry: null, tone: 'progress', final: false };
    case 'unavailable':
      return { text: "We couldn't reach our payment provider. You have not been charged.",
        retry: 'same-key', tone: 'bad', final: false };
    case 'gave-up':
      return { text: "We couldn't get an answer from the shop. " +
        'Trying again is safe: your order will not be placed twice.',
      retry: 'same-key', tone: 'bad', final: false };
    case 'rejected':
      return { text: `Your order could not be placed: ${state.problem?.detail ??
        'the shop refused it.'}`, retry: null, tone: 'bad', final: true };
  }
  return describeOrder(state.order);
}

/**
 * The words for an order as the server reported it; see describe.
 * @param {any} order
 * @returns {Description}
 */
export function describeOrder(order) {
  /** @type {Description} */
  const accepted = { text: 'Your order was accepted and is still being processed.',
    retry: null, tone: 'progress', final: false };
  switch (order.status) {
    case 'pending':
    case 'queued':
      return accepted;
    case 'processing':
      if (order.payment?.status === 'unknown') {
        return { text: "Checking whether your payment went through. Please don't pay again.",
          retry: null, tone: 'progress', final: false };
      }
      return accepted;
    case 'failed':
      if (order.failure?.code === 'payment_unavailable') {
        return { text: "We couldn't reach our payment provider. You have not been charged.",
          retry: null, tone: 'bad', final: true };
      }
      return { text: `Your card was declined: ${declineReason(order.failure ?? {})}.`,
        retry: 'new-method', tone: 'bad', final: true };
    case 'completed': {
      const email = (order.side_effects ?? []).find((e) => e.kind === 'confirmation_email');
      if (email?.status === 'done') {
        return { text: "Order confirmed. We've emailed you.", retry: null, tone: 'good',
          final: true };
      }
      if (email?.status === 'dead') {
        return { text: "Order confirmed. We couldn't send your confirmation email.",
          retry: null, tone: 'good', final: true };
      }
      if (email) {
        return { text: 'Order confirmed. Your confirmation email is on its way.', retry: null,
          tone: 'good', final: true };
      }
      return { text: 'Order confirmed.', retry: null, tone: 'good', final: true };
    }
  }
  return accepted;
}
