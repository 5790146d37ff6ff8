// Package queue works the slow side effects of orders in the background, on
// River, a job queue that keeps its jobs in the service's own database.
//
// Effects are enqueued in the same transaction that completes the order, so a
// committed order always has its jobs and a rolled-back one never does. Jobs
// run at least once; each effect has a row in the effect ledger (see
// store.Effect) that is marked done once the effect happened, and an
// idempotency key of its own for the outside world (the email's Message-ID,
// the webhook's webhook-id), so that a job that runs twice does not repeat
// its effect.
//
// Three queues keep the effects apart: email and webhook carry must-deliver
// effects, retried with exponential backoff and jitter until they run out of
// attempts and are dead (kept, listed and replayable); analytics carries
// best-effort events that are coalesced per order and dropped when the queue
// is full, never at the expense of the others.
//
// A sampler measures each queue's depth and the age of its oldest ready job.
// Admission control uses it: when the must-deliver backlog is older than its
// budget, new orders are refused with a Retry-After computed from the
// measured drain rate, because a queue moves waiting time and does not create
// capacity.
package queue
