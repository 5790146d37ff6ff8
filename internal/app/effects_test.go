package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/writepath/writepath/internal/breaker"
	"github.com/writepath/writepath/internal/queue"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/store/storetest"
)

// fastQueue retries quickly, so that tests see several attempts.
var fastQueue = queue.Options{RetryBase: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
	SampleEvery: 50 * time.Millisecond}

type effectView struct {
	Kind   string `json:"kind"`
	Status string `json:"status"`
}

func (s *service) sideEffects(orderID string) []effectView {
	s.t.Helper()
	r := s.do("GET", "/v1/orders/"+orderID, s.keys[0], nil, nil)
	var o struct {
		SideEffects []effectView `json:"side_effects"`
	}
	if err := json.Unmarshal(r.Body, &o); err != nil {
		s.t.Fatalf("order: %v %s", err, r.Body)
	}
	return o.SideEffects
}

func (s *service) effectStatus(orderID, kind string) string {
	for _, e := range s.sideEffects(orderID) {
		if e.Kind == kind {
			return e.Status
		}
	}
	return ""
}

func TestConfirmationEmailSurvivesRefusalsAndIsSentOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		mta := startSMTP(t)
		mta.set(2, false) // refuses twice, then accepts
		s := startService(t, dbURL, serviceOptions{smtpAddr: mta.addr, queue: fastQueue})

		r := s.postOrder(newKey(), "pm_card_visa")
		o := r.order(t)
		if r.Status != http.StatusCreated || !strings.Contains(string(r.Body),
			`"side_effects":[{"kind":"confirmation_email","status":"queued"}]`) {
			t.Fatalf("order answer %d %s, want the email queued", r.Status, r.Body)
		}
		eventually(t, 15*time.Second, "email done", func() bool {
			return s.effectStatus(o.ID, "confirmation_email") == "done"
		})

		msgs := mta.received()
		if len(msgs) != 1 || !strings.Contains(msgs[0], "Message-ID: <"+o.ID+".confirmation@") {
			t.Fatalf("server got %d messages, want one with the order's Message-ID: %q",
				len(msgs), msgs)
		}
		var attempts int
		err := s.db.SQL.QueryRow(`SELECT j.attempt FROM order_effects e
			JOIN river_job j ON j.id = e.job_id WHERE e.order_id = $1`, o.ID).Scan(&attempts)
		if err != nil || attempts != 3 {
			t.Errorf("attempts %d (%v), want 3", attempts, err)
		}
	})
}

func TestJobThatRunsTwiceSendsOnce(t *testing.T) {
	mta := startSMTP(t)
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{smtpAddr: mta.addr,
		queue: fastQueue})
	o := s.postOrder(newKey(), "pm_card_visa").order(t)
	eventually(t, 10*time.Second, "email done", func() bool {
		return s.effectStatus(o.ID, "confirmation_email") == "done"
	})

	// Deliver the job a second time, as an at-least-once queue may.
	var effectID string
	if err := s.db.SQL.QueryRow(`SELECT id FROM order_effects WHERE order_id = $1`,
		o.ID).Scan(&effectID); err != nil {
		t.Fatal(err)
	}
	client, err := river.NewClient(s.db.RiverDriver(), &river.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dup, err := client.Insert(context.Background(), queue.EmailArgs{EffectID: effectID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "duplicate job completed", func() bool {
		j, err := client.JobGet(context.Background(), dup.Job.ID)
		return err == nil && j.State == "completed"
	})
	if n := len(mta.received()); n != 1 {
		t.Errorf("server got %d messages, want 1", n)
	}
}

func TestWebhookBreakerOpensOnAFailingEndpointAndRecovers(t *testing.T) {
	rc := startReceiver(t)
	rc.setFailing(true)
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{queue: fastQueue,
		breaker: breaker.Options{MinRequests: 3, FailureRate: 0.5, OpenFor: 400 * time.Millisecond,
			Jitter: -1, SuccessThreshold: 1}})
	rc.secret = s.registerEndpoint(rc.url)

	var ids []string
	for range 4 {
		ids = append(ids, s.postOrder(newKey(), "pm_card_visa").order(t).ID)
	}
	host := strings.TrimPrefix(strings.TrimSuffix(rc.url, "/hooks"), "http://")
	eventually(t, 10*time.Second, "breaker open", func() bool {
		return s.breakerState("webhook:"+host) == "open"
	})
	for _, id := range ids {
		if st := s.effectStatus(id, "webhook"); st == "done" || st == "dead" {
			t.Fatalf("webhook of %s is %s while the endpoint fails", id, st)
		}
	}

	rc.setFailing(false)
	for _, id := range ids {
		eventually(t, 20*time.Second, "webhook delivered", func() bool {
			return s.effectStatus(id, "webhook") == "done"
		})
	}
	requests, delivered, badSigs := rc.stats()
	if badSigs != 0 {
		t.Errorf("%d deliveries failed independent signature verification", badSigs)
	}
	if len(delivered) != len(ids) {
		t.Errorf("delivered %d messages, want %d", len(delivered), len(ids))
	}
	for id, n := range delivered {
		if n != 1 {
			t.Errorf("message %s delivered %d times", id, n)
		}
	}
	if st := s.breakerState("webhook:" + host); st != "closed" {
		t.Errorf("breaker %q after recovery, want closed: %s", st, s.status())
	}
	t.Logf("receiver saw %d requests for %d messages", requests, len(ids))
}

func TestWebhookOutOfRetriesIsDeadThenReplayed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		rc := startReceiver(t)
		rc.setFailing(true)
		q := fastQueue
		q.MaxAttempts = 2
		s := startService(t, dbURL, serviceOptions{queue: q,
			breaker: breaker.Options{MinRequests: 100}})
		rc.secret = s.registerEndpoint(rc.url)
		o := s.postOrder(newKey(), "pm_card_visa").order(t)

		eventually(t, 10*time.Second, "webhook dead", func() bool {
			return s.effectStatus(o.ID, "webhook") == "dead"
		})
		var dead struct {
			Data []struct {
				ID       string `json:"id"`
				Kind     string `json:"kind"`
				Attempts int    `json:"attempts"`
			} `json:"data"`
		}
		r := s.do("GET", "/v1/dead_jobs", s.keys[0], nil, nil)
		if err := json.Unmarshal(r.Body, &dead); err != nil || len(dead.Data) != 1 ||
			dead.Data[0].Kind != "webhook" || dead.Data[0].Attempts != 2 {
			t.Fatalf("dead jobs: %s", r.Body)
		}
		if other := s.do("GET", "/v1/dead_jobs", s.keys[1], nil, nil); strings.Contains(
			string(other.Body), dead.Data[0].ID) {
			t.Fatalf("another tenant sees the dead job: %s", other.Body)
		}

		rc.setFailing(false)
		s.replay(dead.Data[0].ID)
		eventually(t, 10*time.Second, "replayed webhook delivered", func() bool {
			return s.effectStatus(o.ID, "webhook") == "done"
		})
		if _, delivered, _ := rc.stats(); delivered[dead.Data[0].ID] != 1 {
			t.Errorf("message delivered %d times after replay, want 1 (same webhook-id)",
				delivered[dead.Data[0].ID])
		}
		again := s.do("POST", "/v1/webhook_deliveries/"+dead.Data[0].ID+"/replay", s.keys[1], nil, nil)
		wantProblem(t, "replay by another tenant", again, 404, "not-found")
	})
}

func TestPermanentEmailRefusalIsDeadAtOnce(t *testing.T) {
	mta := startSMTP(t)
	mta.set(0, true)
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{smtpAddr: mta.addr,
		queue: fastQueue})
	o := s.postOrder(newKey(), "pm_card_visa").order(t)
	eventually(t, 10*time.Second, "email dead", func() bool {
		return s.effectStatus(o.ID, "confirmation_email") == "dead"
	})
	mta.set(0, false)
	var id string
	_ = s.db.SQL.QueryRow(`SELECT id FROM order_effects WHERE order_id = $1`, o.ID).Scan(&id)
	s.replay(id)
	eventually(t, 10*time.Second, "email done", func() bool {
		return s.effectStatus(o.ID, "confirmation_email") == "done"
	})
	if n := len(mta.received()); n != 1 {
		t.Errorf("server got %d messages, want 1", n)
	}
}

func TestBacklogOlderThanBudgetRefusesNewOrders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		q := fastQueue
		q.BacklogBudget = 300 * time.Millisecond
		s := startService(t, dbURL, serviceOptions{queue: q})
		ctx := context.Background()
		s.pause(queue.QueueEmail)
		first := s.postOrder(newKey(), "pm_card_visa").order(t)

		// The email waits; once it has waited past the budget, orders are
		// refused and nothing is written.
		time.Sleep(400 * time.Millisecond)
		key := newKey()
		var r response
		eventually(t, 15*time.Second, "admission refuses", func() bool {
			r = s.postOrder(key, "pm_card_visa")
			return r.Status == http.StatusServiceUnavailable
		})
		wantProblem(t, "overloaded", r, http.StatusServiceUnavailable, "overloaded")
		if r.Header.Get("Idempotent-Replayed") != "false" {
			t.Errorf("503 overloaded: Idempotent-Replayed %q, want false",
				r.Header.Get("Idempotent-Replayed"))
		}
		if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if n := s.countOrders(); n != 1 {
			t.Errorf("orders: %d, want 1: the refused order was written", n)
		}
		if !strings.Contains(string(s.status()), `"queue":"email","depth":1,"ready":1`) {
			t.Errorf("status does not show the backlog: %s", s.status())
		}

		if err := s.app.Queue().Resume(ctx, queue.QueueEmail); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "backlog drained", func() bool {
			return s.effectStatus(first.ID, "confirmation_email") == "done"
		})
		eventually(t, 15*time.Second, "admitted again", func() bool {
			r = s.postOrder(key, "pm_card_visa")
			return r.Status == http.StatusCreated
		})
		if r.Header.Get("Idempotent-Replayed") != "false" {
			t.Errorf("the refused request was stored: replayed %q", r.Header.Get("Idempotent-Replayed"))
		}
	})
}

func TestRolledBackOrderLeavesNoJob(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		s := startService(t, dbURL, serviceOptions{queue: fastQueue})
		ctx := context.Background()
		db := s.app.DB() // the service's own connection: SQLite has one writer
		o := s.postOrder(newKey(), "pm_card_chargeDeclined").order(t)
		before := countJobs(t, db)

		full, err := store.GetOrder(ctx, db.SQL, tenantOf(t, db, o.ID), o.ID)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.app.Queue().EnqueueOrderEffects(ctx, tx, full); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if after := countJobs(t, db); after != before {
			t.Errorf("jobs %d -> %d after a rollback", before, after)
		}
	})
}

func TestPrivateWebhookURLsAreRefused(t *testing.T) {
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{denyPrivate: true})
	for _, u := range []string{"http://127.0.0.1:9/x", "http://localhost/x", "http://10.1.2.3/x",
		"http://[::1]/x", "ftp://93.184.215.14/x"} {
		r := s.do("POST", "/v1/webhook_endpoints", s.keys[0], nil, []byte(`{"url":"`+u+`"}`))
		wantProblem(t, u, r, http.StatusBadRequest, "invalid-request")
	}
}

func (s *service) registerEndpoint(url string) string {
	s.t.Helper()
	r := s.do("POST", "/v1/webhook_endpoints", s.keys[0], nil, []byte(`{"url":"`+url+`"}`))
	var ep struct {
		ID, Secret string
	}
	if err := json.Unmarshal(r.Body, &ep); err != nil || r.Status != 201 ||
		!strings.HasPrefix(ep.Secret, "whsec_") {
		s.t.Fatalf("register endpoint: %d %s", r.Status, r.Body)
	}
	return ep.Secret
}

// replay replays a dead side effect, waiting while the queue still finishes
// its last attempt (409 delivery-not-replayable).
func (s *service) replay(id string) {
	s.t.Helper()
	var r response
	eventually(s.t, 5*time.Second, "replay accepted", func() bool {
		r = s.do("POST", "/v1/dead_jobs/"+id+"/replay", s.keys[0], nil, nil)
		return r.Status != http.StatusConflict
	})
	if r.Status != http.StatusAccepted {
		s.t.Fatalf("replay: %d %s", r.Status, r.Body)
	}
}

func (s *service) status() []byte {
	return s.do("GET", "/v1/status", s.keys[0], nil, nil).Body
}

func countJobs(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRow(`SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func tenantOf(t *testing.T, db *store.DB, orderID string) string {
	t.Helper()
	var id string
	err := db.SQL.QueryRow(`SELECT tenant_id FROM orders WHERE id = $1`, orderID).Scan(&id)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return id
}

func TestShutdownLetsRunningJobsFinishAndLeavesTheRest(t *testing.T) {
	mta := startSMTP(t)
	mta.mu.Lock()
	mta.delay = 700 * time.Millisecond
	mta.mu.Unlock()
	q := fastQueue
	q.Workers = 1
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{smtpAddr: mta.addr, queue: q})
	first := s.postOrder(newKey(), "pm_card_visa").order(t)
	second := s.postOrder(newKey(), "pm_card_visa").order(t)
	eventually(t, 5*time.Second, "first email running", func() bool {
		return s.effectStatus(first.ID, "confirmation_email") == "running"
	})

	s.Stop()
	if n := len(mta.received()); n != 1 {
		t.Fatalf("server got %d messages by the end of shutdown, want the running one", n)
	}
	var states []string
	rows, err := s.db.SQL.Query(`SELECT j.state FROM order_effects e
		JOIN river_job j ON j.id = e.job_id WHERE e.order_id IN ($1, $2) ORDER BY e.created_at`,
		first.ID, second.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var st string
		_ = rows.Scan(&st)
		states = append(states, st)
	}
	rows.Close()
	if strings.Join(states, ",") != "completed,available" {
		t.Errorf("job states after shutdown %v, want the first completed and the second waiting",
			states)
	}
}

func TestAnalyticsGiveWayUnderPressure(t *testing.T) {
	q := fastQueue
	q.AnalyticsLimit = 1
	s := startService(t, storetest.URL(t, "sqlite"), serviceOptions{queue: q})
	s.pause(queue.QueueAnalytics)
	if r := s.postOrder(newKey(), "pm_card_visa"); r.Status != http.StatusCreated {
		t.Fatalf("first order: %d", r.Status)
	}
	eventually(t, 5*time.Second, "analytics backlog sampled", func() bool {
		return strings.Contains(string(s.status()), `"queue":"analytics","depth":1`)
	})
	for range 3 {
		if r := s.postOrder(newKey(), "pm_card_visa"); r.Status != http.StatusCreated {
			t.Fatalf("order under analytics pressure: %d", r.Status)
		}
	}

	var analytics int
	_ = s.db.SQL.QueryRow(`SELECT count(*) FROM river_job WHERE queue = 'analytics'`).Scan(&analytics)
	if analytics != 1 {
		t.Errorf("analytics jobs %d, want 1: the rest dropped", analytics)
	}
	metrics := string(s.do("GET", "/metrics", "", nil, nil).Body)
	if !strings.Contains(metrics, "writepath_analytics_events_dropped_total 3") {
		t.Errorf("metrics do not count 3 dropped analytics events")
	}
}

// pause holds a queue's jobs; the queue exists once the service's workers
// have started.
func (s *service) pause(name string) {
	s.t.Helper()
	eventually(s.t, 5*time.Second, "queue "+name+" paused", func() bool {
		return s.app.Queue().Pause(context.Background(), name) == nil
	})
	time.Sleep(500 * time.Millisecond) // the producer notices the pause
}
