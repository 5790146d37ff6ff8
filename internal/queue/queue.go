package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/mail"
	"github.com/writepath/writepath/internal/metrics"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/webhook"
)

// Queue names.
const (
	QueueEmail     = "email"
	QueueWebhook   = "webhook"
	QueueAnalytics = "analytics"
)

// MustDeliver are the queues whose backlog admission control watches.
var MustDeliver = []string{QueueEmail, QueueWebhook}

// Options configure a Queue.
type Options struct {
	// DB is the database the jobs live in. Required.
	DB *store.DB

	// Mail sends confirmation emails. Required.
	Mail mail.Sender

	// MailFrom is the From address of emails. Empty means
	// "writepath <orders@writepath.invalid>".
	MailFrom string

	// Webhooks delivers webhooks. Required.
	Webhooks *webhook.Sender

	// Breakers holds one circuit breaker per webhook destination host.
	// Required.
	Breakers *breaker.Set

	// Metrics receives queue metrics. Nil means none.
	Metrics *metrics.Metrics

	// Logger receives failures and state changes. Nil means slog.Default().
	Logger *slog.Logger

	// OnOrderChanged, when set, is told after an effect of an order changed
	// state, so that the order's event streams see it.
	OnOrderChanged func(orderID string)

	// Workers is how many jobs of each must-deliver queue run at once. Zero
	// means 4. The analytics queue has one worker.
	Workers int

	// MaxAttempts is how often a must-deliver job is tried before it is dead.
	// Zero means 20: with the default backoff, about ten hours of retries.
	MaxAttempts int

	// RetryBase is the first retry's delay; each later one doubles, up to
	// MaxBackoff, with jitter. Zero means 2 seconds.
	RetryBase time.Duration

	// MaxBackoff caps the delay between retries. Zero means one hour.
	MaxBackoff time.Duration

	// JobTimeout bounds one run of a job. Zero means one minute.
	JobTimeout time.Duration

	// RescueAfter is when a running job whose worker died is given to
	// another worker. It must exceed JobTimeout. Zero means JobTimeout plus
	// 30 seconds, instead of River's default of an hour.
	RescueAfter time.Duration

	// BacklogBudget is how old the must-deliver backlog may get before new
	// orders are refused. Zero means 30 seconds.
	BacklogBudget time.Duration

	// SampleEvery is how often depth and lag are measured. Zero means one
	// second.
	SampleEvery time.Duration

	// AnalyticsLimit is the analytics depth past which new events are
	// dropped. Zero means 1000.
	AnalyticsLimit int

	// FetchCooldown is the least time between two fetches of jobs by one
	// queue's workers; it caps a queue at Workers jobs per cooldown. Zero
	// means 20 ms.
	FetchCooldown time.Duration

	// FetchPollInterval is how often workers look for jobs when no
	// notification of a new one came. Zero means 250 ms.
	FetchPollInterval time.Duration

	// StopTimeout bounds the wait for running jobs at Stop; jobs still
	// running then are cancelled and retried after the next start. Zero
	// means 10 seconds.
	StopTimeout time.Duration
}

// Queue enqueues and works the side effects of orders.
type Queue struct {
	opts   Options
	log    *slog.Logger
	client *river.Client[*sql.Tx]

	payments Payments // set by SetPayments before Start

	lag      atomic.Pointer[Snapshot]
	stopOnce sync.Once
	stop     chan struct{}
	sampled  chan struct{}
}

// New returns a Queue ready to Start. Its tables are created by
// store.DB.Migrate.
func New(opts Options) (*Queue, error) {
	if opts.DB == nil || opts.Mail == nil || opts.Webhooks == nil || opts.Breakers == nil {
		return nil, errors.New("queue: DB, Mail, Webhooks and Breakers are required")
	}
	setDefaults(&opts)
	q := &Queue{opts: opts, log: opts.Logger.With(slog.String("component", "queue")),
		stop: make(chan struct{}), sampled: make(chan struct{}, 1)}
	q.lag.Store(&Snapshot{})

	workers := river.NewWorkers()
	river.AddWorker(workers, &emailWorker{q: q})
	river.AddWorker(workers, &webhookWorker{q: q})
	river.AddWorker(workers, &analyticsWorker{q: q})
	river.AddWorker(workers, &chargeWorker{q: q})
	river.AddWorker(workers, &reconcileWorker{q: q})

	client, err := river.NewClient(opts.DB.RiverDriver(), &river.Config{
		Queues: map[string]river.QueueConfig{
			QueueEmail:     {MaxWorkers: opts.Workers},
			QueueWebhook:   {MaxWorkers: opts.Workers},
			QueueAnalytics: {MaxWorkers: 1},
			QueuePayments:  {MaxWorkers: opts.Workers},
		},
		Workers:                     workers,
		MaxAttempts:                 opts.MaxAttempts,
		RetryPolicy:                 &backoff{base: opts.RetryBase, max: opts.MaxBackoff},
		JobTimeout:                  opts.JobTimeout,
		RescueStuckJobsAfter:        opts.RescueAfter,
		DiscardedJobRetentionPeriod: -1, // dead jobs are kept until an operator acts
		CancelledJobRetentionPeriod: -1,
		FetchCooldown:               opts.FetchCooldown,
		FetchPollInterval:           opts.FetchPollInterval,
		SoftStopTimeout:             opts.StopTimeout,
		Logger:                      opts.Logger.With(slog.String("component", "river")),
	})
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	q.client = client
	return q, nil
}

func setDefaults(o *Options) {
	if o.MailFrom == "" {
		o.MailFrom = "writepath <orders@writepath.invalid>"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers == 0 {
		o.Workers = 4
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 20
	}
	if o.RetryBase == 0 {
		o.RetryBase = 2 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = time.Hour
	}
	if o.JobTimeout == 0 {
		o.JobTimeout = time.Minute
	}
	if o.RescueAfter == 0 {
		o.RescueAfter = o.JobTimeout + 30*time.Second
	}
	if o.BacklogBudget == 0 {
		o.BacklogBudget = 30 * time.Second
	}
	if o.SampleEvery == 0 {
		o.SampleEvery = time.Second
	}
	if o.AnalyticsLimit == 0 {
		o.AnalyticsLimit = 1000
	}
	if o.FetchCooldown == 0 {
		o.FetchCooldown = 20 * time.Millisecond
	}
	if o.FetchPollInterval == 0 {
		o.FetchPollInterval = 250 * time.Millisecond
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = 10 * time.Second
	}
}

// Start starts fetching and working jobs, and the lag sampler.
func (q *Queue) Start(ctx context.Context) error {
	if q.payments == nil {
		return errNoPayments
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("queue: start: %w", err)
	}
	go q.sample()
	return nil
}

// Stop stops fetching new jobs and waits for running ones, up to
// Options.StopTimeout; jobs still running then are cancelled and left for
// the next start.
func (q *Queue) Stop(ctx context.Context) error {
	q.stopOnce.Do(func() { close(q.stop) })
	if err := q.client.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("queue: stop: %w", err)
	}
	return nil
}

// Ready reports whether the queue can take and work jobs: its workers are
// running and its tables answer.
func (q *Queue) Ready(ctx context.Context) error {
	select {
	case <-q.client.Stopped():
		return errors.New("workers stopped")
	default:
	}
	var n int
	err := q.opts.DB.SQL.QueryRowContext(ctx, `SELECT count(*) FROM river_queue`).Scan(&n)
	if err != nil {
		return fmt.Errorf("queue tables: %w", err)
	}
	if n == 0 {
		return errors.New("workers have not started")
	}
	return nil
}

// Pause stops the workers of one queue from fetching jobs, in every process
// sharing the database, until Resume. Operators use it to drain a
// destination; tests use it to build a backlog.
func (q *Queue) Pause(ctx context.Context, name string) error {
	return q.client.QueuePause(ctx, name, nil)
}

// Resume lets a paused queue's workers fetch again.
func (q *Queue) Resume(ctx context.Context, name string) error {
	return q.client.QueueResume(ctx, name, nil)
}

// backoff is the retry policy: exponential from base, capped at max, with
// half of each delay drawn at random so that retries of many jobs spread
// out instead of arriving together.
type backoff struct{ base, max time.Duration }

// NextRetry implements river.ClientRetryPolicy.
func (b *backoff) NextRetry(job *rivertype.JobRow) time.Time {
	d := b.base
	for i := 1; i < job.Attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return time.Now().Add(d/2 + rand.N(d/2+1))
}
