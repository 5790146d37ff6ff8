// Type declarations of writepath-client.js, the browser client of the
// writepath API. The shapes follow sections 2 and 3 of the spec.

/** Where Checkout keeps its record, in sessionStorage by default. */
export const CHECKOUT_STORAGE_KEY: string;

/** How automatic retries are spaced and bounded. */
export interface RetryPolicy {
  /** Attempts in all, the first included. Default 5. */
  maxAttempts: number;
  /** Ceiling of the first backoff; it doubles per retry. Default 300 ms. */
  baseDelayMs: number;
  /** Largest backoff ceiling. Default 5000 ms. */
  maxDelayMs: number;
  /** No retry starts later than this after the first attempt. Default 30 s. */
  maxElapsedMs: number;
  /**
   * The longest wait on a 409 idempotency-key-in-use, whose Retry-After is
   * the first request's remaining lease. Default 2000 ms.
   */
  maxInUseWaitMs: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy>;

export type Currency = 'usd' | 'eur' | 'gbp' | 'cad' | 'aud' | 'chf' | 'sek' | 'nok' | 'dkk';

/** The body of POST /v1/orders. */
export interface OrderRequest {
  currency: Currency;
  customer: { email: string };
  items: { sku: string; quantity: number; unit_amount: number }[];
  /** A provider token such as "pm_card_visa", never a card number. */
  payment_method: string;
}

export type OrderStatus = 'pending' | 'queued' | 'processing' | 'completed' | 'failed';

export type PaymentStatus =
  | 'not_started' | 'deferred' | 'in_flight' | 'unknown' | 'succeeded' | 'declined'
  | 'abandoned';

export type SideEffectStatus = 'queued' | 'running' | 'retrying' | 'done' | 'dead';

/** An order, as the API shows it. */
export interface Order {
  id: string;
  status: OrderStatus;
  amount: number;
  currency: Currency;
  items: OrderRequest['items'];
  payment: {
    attempt: number;
    payment_method: string;
    status: PaymentStatus;
    provider_reference: string | null;
  };
  failure: { code: string; decline_code?: string; message: string } | null;
  side_effects: { kind: 'confirmation_email' | 'webhook' | string; status: SideEffectStatus }[];
  /** Bumped on every change; the id of its server-sent event. */
  version: number;
  created_at: string;
  updated_at: string;
}

/** An RFC 9457 problem; type is "/problems/<name>". */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: { field: string; detail: string }[];
}

/** One answer of the API. */
export interface Answer<T = Order | Problem | unknown> {
  status: number;
  body: T;
  /** The Idempotent-Replayed header was "true". */
  replayed: boolean;
  /** Retry-After in milliseconds, or null. */
  retryAfterMs: number | null;
}

export interface RetryInfo {
  /** The attempt that just failed, from 0. */
  attempt: number;
  delayMs: number;
  /** The retryable answer, or null after a network error. */
  answer: Answer | null;
  error: unknown;
}

export interface RequestOptions {
  body?: unknown;
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export function newIdempotencyKey(): string;
export function parseRetryAfter(value: string | null, now?: number): number | null;
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  retryAfterMs: number | null,
  random?: () => number,
): number;
export function problemName(problem: { type?: string } | null | undefined): string;
export function isSettled(order: Pick<Order, 'status' | 'side_effects'>): boolean;
export function isRetryable(status: number, problemName: string): boolean;

export interface ServerSentEvent {
  event: string;
  /** The last event id seen, as EventSource keeps it. */
  id: string | null;
  data: string;
}

export function readServerSentEvents(
  body: ReadableStream<Uint8Array>,
  onRetry?: (ms: number) => void,
): AsyncGenerator<ServerSentEvent, void, void>;

export class Client {
  constructor(options: {
    apiKey: string;
    baseUrl?: string;
    retry?: Partial<RetryPolicy>;
    fetch?: typeof fetch;
  });
  apiKey: string;
  baseUrl: string;
  retry: RetryPolicy;
  request(method: string, path: string, options?: RequestOptions): Promise<Answer>;
  requestWithRetry(
    method: string,
    path: string,
    options?: RequestOptions & { onRetry?: (info: RetryInfo) => void },
  ): Promise<Answer>;
  getOrder(id: string, options?: { signal?: AbortSignal }): Promise<Answer<Order | Problem>>;
  watchOrder(
    id: string,
    options: {
      onOrder: (order: Order) => void;
      signal?: AbortSignal;
      /** The version already seen; sent as Last-Event-ID. */
      since?: number;
      onMode?: (mode: 'stream' | 'poll') => void;
    },
  ): Promise<Order>;
}

export class WatchError extends Error {
  status: number;
  problem: Problem | null;
}

export type CheckoutPhase =
  | 'idle' | 'submitting' | 'unavailable' | 'gave-up' | 'rejected' | 'order';

export interface CheckoutState {
  phase: CheckoutPhase;
  order: Order | null;
  problem: Problem | null;
  orderId: string | null;
  /** An automatic retry is waiting; it starts at retryAt (epoch ms). */
  autoRetrying: boolean;
  retryAt: number | null;
  /** The order came from an idempotent replay. */
  replayed: boolean;
  request: OrderRequest | null;
  paymentMethod: string | null;
}

export class Checkout {
  constructor(options: {
    client: Client;
    storage?: Storage;
    storageKey?: string;
    onChange?: (state: CheckoutState) => void;
  });
  readonly state: CheckoutState;
  readonly active: boolean;
  submit(request: OrderRequest): Promise<void>;
  retry(): Promise<void>;
  payAgain(paymentMethod: string): Promise<void>;
  resume(): Promise<boolean>;
  reset(): void;
  close(): void;
}

export interface Description {
  text: string;
  retry: 'same-key' | 'new-method' | null;
  tone: 'progress' | 'good' | 'bad';
  /** Nothing more will happen on its own. */
  final: boolean;
}

export function declineReason(failure: NonNullable<Order['failure']>): string;
export function describe(state: CheckoutState): Description;
export function describeOrder(order: Order): Description;
