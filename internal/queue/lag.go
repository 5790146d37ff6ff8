package queue

import (
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// QueueLag is one queue's backlog at one moment.
type QueueLag struct {
	// Queue is the queue's name.
	Queue string `json:"queue"`
	// Depth counts jobs waiting: ready, scheduled or waiting to retry.
	Depth int `json:"depth"`
	// Ready counts jobs that could run now but have not started.
	Ready int `json:"ready"`
	// OldestAgeSeconds is how long the oldest ready job has waited.
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	// DrainPerSecond is the measured rate of completed jobs.
	DrainPerSecond float64 `json:"drain_per_second"`
}

// Snapshot is every queue's lag, as last sampled.
type Snapshot struct {
	Queues    []QueueLag `json:"queues"`
	SampledAt time.Time  `json:"sampled_at"`
}

func (s *Snapshot) depth(queue string) int {
	for _, l := range s.Queues {
		if l.Queue == queue {
			return l.Depth
		}
	}
	return 0
}

// queueNames are the queues the sampler measures.
var queueNames = []string{QueueEmail, QueueWebhook, QueuePayments, QueueAnalytics}

// Lag returns the last sampled lag of every queue.
func (q *Queue) Lag() *Snapshot { return q.lag.Load() }

// Admit says whether a new order may be accepted: no when the oldest ready
// job of a must-deliver queue has waited longer than the backlog budget. It
// then returns how long to wait, from the backlog and the measured drain
// rate.
func (q *Queue) Admit() (bool, time.Duration) {
	snap := q.lag.Load()
	var ready int
	var drain float64
	var over bool
	for _, l := range snap.Queues {
		if l.Queue != QueueEmail && l.Queue != QueueWebhook {
			continue
		}
		ready += l.Ready
		drain += l.DrainPerSecond
		if l.OldestAgeSeconds > q.opts.BacklogBudget.Seconds() {
			over = true
		}
	}
	if !over {
		return true, 0
	}
	wait := q.opts.BacklogBudget
	if drain > 0 {
		wait = time.Duration(math.Ceil(float64(ready)/drain)) * time.Second
	}
	return false, min(max(wait, time.Second), 10*time.Minute)
}

// sample measures the queues every Options.SampleEvery until Stop.
func (q *Queue) sample() {
	tick := time.NewTicker(q.opts.SampleEvery)
	defer tick.Stop()
	completed := map[string]int{}
	last := time.Now()
	for {
		now := time.Now()
		snap, counts, err := q.measure(context.Background(), now)
		if err != nil {
			q.log.Warn("sample queues", slog.Any("error", err))
		} else {
			q.setDrain(snap, completed, counts, now.Sub(last))
			completed, last = counts, now
			q.lag.Store(snap)
			for _, l := range snap.Queues {
				q.opts.Metrics.QueueLag(l.Queue, l.Depth,
					time.Duration(l.OldestAgeSeconds*float64(time.Second)))
			}
			select {
			case q.sampled <- struct{}{}:
			default:
			}
		}

		select {
		case <-q.stop:
			return
		case <-tick.C:
		}
	}
}

// setDrain computes each queue's drain rate from the growth of its completed
// jobs since the last sample, smoothed with the previous rate.
func (q *Queue) setDrain(snap *Snapshot, before, after map[string]int, took time.Duration) {
	prev := q.lag.Load()
	for i := range snap.Queues {
		l := &snap.Queues[i]
		rate := 0.0
		if b, ok := before[l.Queue]; ok && took > 0 {
			rate = float64(max(after[l.Queue]-b, 0)) / took.Seconds()
		}
		for _, p := range prev.Queues {
			if p.Queue == l.Queue {
				rate = 0.5*rate + 0.5*p.DrainPerSecond
			}
		}
		l.DrainPerSecond = math.Round(rate*100) / 100
	}
}

// measure reads every queue's depth, ready count, oldest ready job and
// completed count. The counts use the queue's fetch index; the oldest job
// is read through River so that its timestamp is decoded the same way on
// both databases.
func (q *Queue) measure(ctx context.Context, now time.Time) (*Snapshot, map[string]int, error) {
	rows, err := q.opts.DB.SQL.QueryContext(ctx, `SELECT queue,
		SUM(CASE WHEN state IN ('available', 'scheduled', 'retryable') THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'available' THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'completed' THEN 1 ELSE 0 END)
		FROM river_job GROUP BY queue`)
	if err != nil {
		return nil, nil, err
	}
	byQueue := map[string]*QueueLag{}
	completed := map[string]int{}
	for _, name := range queueNames {
		byQueue[name] = &QueueLag{Queue: name}
	}
	for rows.Next() {
		var name string
		var depth, ready, done int
		if err := rows.Scan(&name, &depth, &ready, &done); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if l, ok := byQueue[name]; ok {
			l.Depth, l.Ready, completed[name] = depth, ready, done
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}

	snap := &Snapshot{SampledAt: now}
	for _, name := range queueNames {
		l := byQueue[name]
		if l.Ready > 0 {
			age, err := q.oldestReady(ctx, name, now)
			if err != nil {
				return nil, nil, err
			}
			l.OldestAgeSeconds = math.Round(age.Seconds()*1000) / 1000
		}
		snap.Queues = append(snap.Queues, *l)
	}
	return snap, completed, nil
}

func (q *Queue) oldestReady(ctx context.Context, name string, now time.Time) (time.Duration, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Queues(name).
		States(rivertype.JobStateAvailable).
		OrderBy(river.JobListOrderByScheduledAt, river.SortOrderAsc).First(1))
	if err != nil || len(res.Jobs) == 0 {
		return 0, err
	}
	return max(now.Sub(res.Jobs[0].ScheduledAt), 0), nil
}
