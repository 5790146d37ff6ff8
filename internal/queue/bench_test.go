package queue_test

import (
	"context"
	"database/sql"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/mail"
	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/store/storetest"
	"github.com/writepath/writepath/internal/webhook"
)

// River settings of the throughput comparison: writepath's defaults, given
// to the bare client too so that the comparison isolates the work writepath
// does per job, and River's minimum cooldown for the uncapped runs.
const (
	benchWorkers   = 4 // writepath's default Options.Workers
	benchFetchCool = 20 * time.Millisecond
	benchFetchPoll = 250 * time.Millisecond
	fastFetchCool  = river.FetchCooldownMin // the uncapped reference run
	noopQueue      = "bench_noop"
	fastNoopQueue  = "bench_noop_fast"
)

// throughputJobs is how many jobs each burn-down works, by engine: a few
// seconds at writepath's fetch settings.
var throughputJobs = map[string]int{"sqlite": 300, "postgres": 1000}

// The steady load of the lag benchmark.
const (
	lagRate           = 50 // orders per second
	lagWindow         = 5 * time.Second
	lagSampleInterval = 100 * time.Millisecond
)

const (
	benchInsertBatch = 100 // jobs or orders per setup transaction
	benchWaitAtMost  = 5 * time.Minute
	benchCheckEvery  = 100 * time.Millisecond
)

var discard = slog.New(slog.DiscardHandler)

// noopArgs is the bare River job: it carries a sequence number and nothing
// to do.
type noopArgs struct {
	Seq int `json:"seq"`
}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
}

func (*noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// BenchmarkJobThroughput compares how many jobs per second writepath's
// workers get through with bare River on the same database, in the same
// iteration. Each iteration opens a fresh migrated database (a SQLite file
// with synchronous=FULL, or a PostgreSQL schema of its own) and runs two
// burn-downs on it, alternating which goes first:
//
//   - bare: N no-op jobs on a queue of their own, inserted in transactions
//     of 100 before a River client starts; timed from Start until River has
//     recorded all N completions (its completion events, then a count of
//     river_job to confirm).
//   - writepath: N completed orders whose effects are enqueued with
//     EnqueueOrderEffects before a queue.Queue starts; timed from Start until
//     all N confirmation_email effects are marked done in order_effects (the
//     queue's OnOrderChanged hint, then a count to confirm).
//
// The writepath side does what an email job does in production, and that is
// what the comparison prices: it loads the effect and the order, writes the
// message to a file in a mail directory (file and directory fsynced), marks
// the effect done and touches the order (twice: when the job starts and when
// the effect is done). Alongside, the queue's analytics worker works the one
// analytics job each order also enqueues, and its sampler measures the
// queues once a second. The endpoints differ slightly: bare waits for
// River's batched job completion, writepath for the effect's own done mark,
// which is written before River completes the job.
//
// Both run 4 workers on the measured queue with writepath's fetch cooldown
// (20 ms) and poll interval (250 ms). River fetches at most one batch per
// cooldown, of at most as many jobs as workers are idle, so 4 workers cap
// either side near 200 jobs/s when jobs are short; the ratio shows how much
// of that writepath's work per job uses up. To show what the cap hides, a
// second pair of burn-downs, after the first, works N jobs again on each
// side with River's minimum cooldown (1 ms), on a fresh database.
//
// N is 300 jobs on SQLite and 1000 on PostgreSQL per burn-down. Metrics over
// all iterations: bare-jobs/s, writepath-jobs/s, writepath/bare (the ratio
// of those two rates), and the same three at 1 ms. ns/op is the time of the
// four timed burn-downs together; setup is not timed.
func BenchmarkJobThroughput(b *testing.B) {
	for _, engine := range storetest.Engines {
		b.Run(engine, func(b *testing.B) {
			n := throughputJobs[engine]
			var bare, wp, fast, fastWP time.Duration
			runs := 0
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				r := throughputRound(b, engine, n, i%2 == 0)
				bare, wp, fast = bare+r.bare, wp+r.writepath, fast+r.fast
				fastWP += r.fastWritepath
				runs++
				b.StartTimer()
			}

			jobs := float64(n * runs)
			bareRate, wpRate := jobs/bare.Seconds(), jobs/wp.Seconds()
			b.ReportMetric(bareRate, "bare-jobs/s")
			b.ReportMetric(wpRate, "writepath-jobs/s")
			b.ReportMetric(wpRate/bareRate, "writepath/bare")
			b.ReportMetric(jobs/fast.Seconds(), "bare-1ms-jobs/s")
			b.ReportMetric(jobs/fastWP.Seconds(), "writepath-1ms-jobs/s")
			b.ReportMetric(fast.Seconds()/fastWP.Seconds(), "writepath/bare-1ms")
		})
	}
}

// roundTimes are the burn-down times of one iteration.
type roundTimes struct{ bare, writepath, fast, fastWritepath time.Duration }

// throughputRound runs the three burn-downs of n jobs on a fresh database,
// bare River before writepath when bareFirst is set.
func throughputRound(b *testing.B, engine string, n int, bareFirst bool) roundTimes {
	db := openBenchDB(b, engine)
	defer db.Close()
	var r roundTimes
	if bareFirst {
		r.bare = burnDownBare(b, db, n, noopQueue, benchFetchCool)
		r.writepath = burnDownWritepath(b, db, n, benchFetchCool)
	} else {
		r.writepath = burnDownWritepath(b, db, n, benchFetchCool)
		r.bare = burnDownBare(b, db, n, noopQueue, benchFetchCool)
	}
	r.fast = burnDownBare(b, db, n, fastNoopQueue, fastFetchCool)

	fresh := openBenchDB(b, engine) // burnDownWritepath wants no earlier emails
	defer fresh.Close()
	r.fastWritepath = burnDownWritepath(b, fresh, n, fastFetchCool)
	return r
}

// burnDownBare inserts n no-op jobs on the named queue, starts a River
// client that works them with the given fetch cooldown and returns how long
// it took from Start until all were completed. The queue must be empty.
func burnDownBare(b *testing.B, db *store.DB, n int, name string,
	cooldown time.Duration) time.Duration {
	ctx := context.Background()
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{})
	client, err := river.NewClient(db.RiverDriver(), &river.Config{
		Queues:            map[string]river.QueueConfig{name: {MaxWorkers: benchWorkers}},
		Workers:           workers,
		FetchCooldown:     cooldown,
		FetchPollInterval: benchFetchPoll,
		Logger:            discard,
	})
	if err != nil {
		b.Fatal(err)
	}

	count := `SELECT count(*) FROM river_job WHERE queue = '` + name +
		`' AND state = 'completed'`
	opts := &river.InsertOpts{Queue: name}
	for from := 0; from < n; from += benchInsertBatch {
		params := []river.InsertManyParams{}
		for i := from; i < min(from+benchInsertBatch, n); i++ {
			params = append(params, river.InsertManyParams{Args: noopArgs{Seq: i},
				InsertOpts: opts})
		}
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := client.InsertManyTx(ctx, tx, params)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}

	// Completion events are sent after River has recorded the completions.
	events, cancel := client.Subscribe(river.EventKindJobCompleted)
	defer cancel()
	hints := make(chan struct{}, n)
	go func() {
		for ev := range events {
			if ev.Job.Queue == name {
				select {
				case hints <- struct{}{}:
				default:
				}
			}
		}
	}()

	b.StartTimer()
	start := time.Now()
	if err := client.Start(ctx); err != nil {
		b.Fatal(err)
	}
	running := true
	defer func() {
		if running { // a failure on the way
			_ = client.Stop(ctx)
		}
	}()
	took := awaitCount(b, db, count, n, hints).Sub(start)
	b.StopTimer()

	running = false
	if err := client.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	return took
}

// burnDownWritepath creates n completed orders, enqueues their effects,
// starts a queue.Queue and returns how long it took from Start until every
// confirmation email was done. It then lets the analytics jobs finish,
// untimed, so that the next burn-down has the database to itself. db must
// hold no other email effects.
func burnDownWritepath(b *testing.B, db *store.DB, n int, cooldown time.Duration) time.Duration {
	ctx := context.Background()

	// The queue tells OnOrderChanged once when an email job starts and once
	// after its effect is marked done: the second call per order is the hint
	// that one more email is done, the count of done effects the proof.
	hints := make(chan struct{}, n)
	var mu sync.Mutex
	calls := map[string]int{}
	q := newBenchQueue(b, db, queue.Options{FetchCooldown: cooldown, OnOrderChanged: func(id string) {
		mu.Lock()
		calls[id]++
		second := calls[id] == 2
		mu.Unlock()
		if second {
			select {
			case hints <- struct{}{}:
			default:
			}
		}
	}})

	count := `SELECT count(*) FROM order_effects WHERE kind = '` + store.EffectEmail +
		`' AND done_at IS NOT NULL`
	orders := completedOrders(b, db, n)
	for from := 0; from < n; from += benchInsertBatch {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			for _, o := range orders[from:min(from+benchInsertBatch, n)] {
				if _, err := q.EnqueueOrderEffects(ctx, tx, o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}

	b.StartTimer()
	start := time.Now()
	if err := q.Start(ctx); err != nil {
		b.Fatal(err)
	}
	running := true
	defer func() {
		if running { // a failure on the way
			_ = q.Stop(ctx)
		}
	}()
	took := awaitCount(b, db, count, n, hints).Sub(start)
	b.StopTimer()

	waitUntil(b, "writepath's jobs finished", func() bool {
		var left int
		err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM river_job
			WHERE queue NOT IN ($1, $2) AND state <> 'completed'`,
			noopQueue, fastNoopQueue).Scan(&left)
		if err != nil {
			b.Fatal(err)
		}
		return left == 0
	})
	running = false
	if err := q.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	return took
}

// BenchmarkQueueLagUnderSteadyRate measures how far the email queue falls
// behind while orders arrive at a steady rate. A queue.Queue with 4 workers
// per queue and its lag sampler at 100 ms runs on a fresh migrated database;
// for 5 s a ticker places 50 orders per second, each in a goroutine of its
// own that does not wait for the previous one (an open model): one
// transaction inserts a completed order and enqueues its effects (an email
// and an analytics event; the tenant has no webhook endpoints), as checkout
// does when it completes an order.
//
// Every 100 ms the benchmark reads the queue's own lag sample (Queue.Lag)
// and keeps each sample once. Metrics, over the 5 s window: lag-p50-ms and
// lag-max-ms, the median and maximum age of the oldest ready email job;
// depth-max, the most email jobs waiting; and orders/s, the enqueue rate
// achieved (committed orders over the time from the first tick to the last
// commit), which falls short of 50 when enqueueing itself cannot keep up.
//
// The lag has a floor set by how River learns of new jobs. On SQLite its
// emulated notifications reach the workers within about 50 ms. On
// PostgreSQL writepath's database/sql driver has no listener, so a job
// inserted in a transaction waits for the next fetch: the poll every 250 ms,
// or sooner when a finished job frees a worker of a busy queue.
func BenchmarkQueueLagUnderSteadyRate(b *testing.B) {
	for _, engine := range storetest.Engines {
		b.Run(engine, func(b *testing.B) {
			ctx := context.Background()
			db := openBenchDB(b, engine)
			b.Cleanup(func() { db.Close() })
			tenant, _, err := db.CreateTenant(ctx, "bench")
			if err != nil {
				b.Fatal(err)
			}
			q := newBenchQueue(b, db, queue.Options{SampleEvery: lagSampleInterval})
			if err := q.Start(ctx); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() {
				if err := q.Stop(ctx); err != nil {
					b.Error(err)
				}
			})

			var lags []float64
			depthMax, placed := 0, 0
			var busy time.Duration
			for b.Loop() {
				r := steadyLoad(b, db, q, tenant.ID)
				lags = append(lags, r.lags...)
				depthMax = max(depthMax, r.depthMax)
				placed += r.placed
				busy += r.busy
			}

			if len(lags) == 0 {
				b.Fatal("no lag samples")
			}
			slices.Sort(lags)
			b.ReportMetric(lags[len(lags)/2]*1000, "lag-p50-ms")
			b.ReportMetric(lags[len(lags)-1]*1000, "lag-max-ms")
			b.ReportMetric(float64(depthMax), "depth-max")
			b.ReportMetric(float64(placed)/busy.Seconds(), "orders/s")
		})
	}
}

// loadResult is what one window of steady load saw.
type loadResult struct {
	lags     []float64 // email OldestAgeSeconds, one per sample
	depthMax int
	placed   int           // orders committed
	busy     time.Duration // first tick to last commit
}

// steadyLoad places lagRate orders a second for lagWindow and samples the
// queue's lag meanwhile. It returns once every order placed is committed.
func steadyLoad(b *testing.B, db *store.DB, q *queue.Queue, tenantID string) loadResult {
	ctx := context.Background()
	var res loadResult
	var wg sync.WaitGroup
	var placed atomic.Int64
	var lastCommit atomic.Int64 // Unix nanoseconds

	tick := time.NewTicker(time.Second / lagRate)
	defer tick.Stop()
	sample := time.NewTicker(lagSampleInterval)
	defer sample.Stop()
	start := time.Now()
	end := time.After(lagWindow)
	seen := map[time.Time]bool{}

load:
	for {
		select {
		case <-end:
			break load
		case <-tick.C:
			wg.Go(func() {
				o := newCompletedOrder(tenantID)
				err := db.Tx(ctx, func(tx *sql.Tx) error {
					if err := store.InsertOrder(ctx, tx, o); err != nil {
						return err
					}
					_, err := q.EnqueueOrderEffects(ctx, tx, o)
					return err
				})
				if err != nil {
					b.Error(err)
					return
				}
				placed.Add(1)
				now := time.Now().UnixNano()
				for last := lastCommit.Load(); now > last; last = lastCommit.Load() {
					if lastCommit.CompareAndSwap(last, now) {
						break
					}
				}
			})
		case <-sample.C:
			snap := q.Lag()
			if snap.SampledAt.Before(start) || seen[snap.SampledAt] {
				continue
			}
			seen[snap.SampledAt] = true
			for _, l := range snap.Queues {
				if l.Queue == queue.QueueEmail {
					res.lags = append(res.lags, l.OldestAgeSeconds)
					res.depthMax = max(res.depthMax, l.Depth)
				}
			}
		}
	}
	wg.Wait()

	res.placed = int(placed.Load())
	res.busy = time.Unix(0, lastCommit.Load()).Sub(start)
	return res
}

// openBenchDB opens and migrates a fresh database of the engine. Callers
// close it; its files or schema are removed when the benchmark ends.
func openBenchDB(b *testing.B, engine string) *store.DB {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.URL(b, engine))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		b.Fatal(err)
	}
	return db
}

// newBenchQueue returns a queue on db that mails into a temporary directory,
// with o's other settings and no payment work.
func newBenchQueue(b *testing.B, db *store.DB, o queue.Options) *queue.Queue {
	b.Helper()
	o.DB = db
	o.Mail = mail.Dir{Path: b.TempDir()}
	o.Webhooks = webhook.NewSender(webhook.Guard{AllowPrivate: true})
	o.Breakers = breaker.NewSet("webhook:", breaker.Options{})
	o.Logger = discard
	q, err := queue.New(o)
	if err != nil {
		b.Fatal(err)
	}
	q.SetPayments(idlePayments{})
	return q
}

// idlePayments stands in for the checkout's payment work: the benchmarks
// enqueue no payment jobs, so it is never called.
type idlePayments struct{}

func (idlePayments) ChargeQueued(context.Context, string, string, int) (time.Duration, error) {
	return 0, nil
}

func (idlePayments) Reconcile(context.Context, string, string, int) (time.Duration, error) {
	return 0, nil
}

// completedOrders stores n completed orders of a new tenant.
func completedOrders(b *testing.B, db *store.DB, n int) []*order.Order {
	b.Helper()
	ctx := context.Background()
	tenant, _, err := db.CreateTenant(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	orders := make([]*order.Order, n)
	for i := range orders {
		orders[i] = newCompletedOrder(tenant.ID)
	}
	for from := 0; from < n; from += benchInsertBatch {
		err := db.Tx(ctx, func(tx *sql.Tx) error {
			for _, o := range orders[from:min(from+benchInsertBatch, n)] {
				if err := store.InsertOrder(ctx, tx, o); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return orders
}

func newCompletedOrder(tenantID string) *order.Order {
	now := time.Now().UTC().Truncate(time.Millisecond)
	ref := "pay_" + store.NewID("bench")
	return &order.Order{ID: store.NewID("ord"), TenantID: tenantID, Status: order.Completed,
		Amount: 2500, Currency: "usd", CustomerEmail: "ada@example.com",
		Items: []order.Item{{SKU: "tea-01", Quantity: 2, UnitAmount: 1250}},
		Payment: order.Payment{Attempt: 1, Method: "pm_card_visa",
			Status: order.PaymentSucceeded, ProviderReference: &ref},
		Version: 3, CreatedAt: now, UpdatedAt: now}
}

// awaitCount waits until query counts at least want rows and returns when
// that happened. Each value on hints announces one more completion; once
// they add up, the query confirms them and the time of the last hint is
// returned. The query also runs every 100 ms, in case a hint was lost.
func awaitCount(b *testing.B, db *store.DB, query string, want int,
	hints <-chan struct{}) time.Time {
	b.Helper()
	check := time.NewTicker(benchCheckEvery)
	defer check.Stop()
	deadline := time.After(benchWaitAtMost)
	heard := 0
	for {
		var at time.Time
		select {
		case <-hints:
			if heard++; heard < want {
				continue
			}
			at = time.Now()
		case <-check.C:
		case <-deadline:
			b.Fatalf("%d rows of %q not within %v", want, query, benchWaitAtMost)
		}

		var got int
		if err := db.SQL.QueryRow(query).Scan(&got); err != nil {
			b.Fatal(err)
		}
		if got >= want {
			if at.IsZero() {
				at = time.Now()
			}
			return at
		}
	}
}

// waitUntil polls cond every 100 ms until it holds.
func waitUntil(b *testing.B, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(benchWaitAtMost)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("%s: not within %v", what, benchWaitAtMost)
		}
		time.Sleep(benchCheckEvery)
	}
}
