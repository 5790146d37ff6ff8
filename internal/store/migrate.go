package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river/rivermigrate"

	"github.com/writepath/writepath/idempotency"
)

// migration is one versioned change of the schema. Migrations are compiled
// into the binary and applied in order, each in its own transaction together
// with its row in schema_migrations.
type migration struct {
	version int
	name    string
	up      func(d idempotency.Dialect) ([]string, error)
}

var migrations = []migration{
	{1, "tenants and orders", tenantsAndOrders},
	{2, "idempotency keys", func(d idempotency.Dialect) ([]string, error) {
		return idempotency.CreateTableSQL(d, idempotency.DefaultTable)
	}},
	{3, "side effects and webhook endpoints", effectsAndWebhooks},
	{4, "payment attempt start", func(idempotency.Dialect) ([]string, error) {
		return []string{`ALTER TABLE orders ADD COLUMN payment_started_at BIGINT NOT NULL DEFAULT 0`}, nil
	}},
	{5, "side effect status in the ledger", func(idempotency.Dialect) ([]string, error) {
		return []string{
			`ALTER TABLE order_effects ADD COLUMN status TEXT NOT NULL DEFAULT 'queued'`,
			`UPDATE order_effects SET status = 'done' WHERE done_at IS NOT NULL`,
		}, nil
	}},
}

func effectsAndWebhooks(d idempotency.Dialect) ([]string, error) {
	blob := "BLOB"
	if d == idempotency.Postgres {
		blob = "BYTEA"
	}
	return []string{
		`CREATE TABLE webhook_endpoints (
			id         TEXT PRIMARY KEY,
			tenant_id  TEXT NOT NULL REFERENCES tenants (id),
			url        TEXT NOT NULL,
			secret     TEXT NOT NULL,
			created_at BIGINT NOT NULL
		)`,
		`CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at)`,
		`CREATE TABLE order_effects (
			id          TEXT PRIMARY KEY,
			order_id    TEXT NOT NULL REFERENCES orders (id),
			tenant_id   TEXT NOT NULL,
			kind        TEXT NOT NULL,
			endpoint_id TEXT NOT NULL,
			payload     ` + blob + `,
			job_id      BIGINT,
			last_error  TEXT,
			done_at     BIGINT,
			created_at  BIGINT NOT NULL,
			UNIQUE (order_id, kind, endpoint_id)
		)`,
		`CREATE INDEX order_effects_endpoint ON order_effects (endpoint_id, created_at)`,
		`CREATE INDEX order_effects_job ON order_effects (job_id)`,
		`CREATE TABLE analytics_events (
			order_id   TEXT NOT NULL,
			event      TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			PRIMARY KEY (order_id, event)
		)`,
	}, nil
}

func tenantsAndOrders(idempotency.Dialect) ([]string, error) {
	return []string{
		`CREATE TABLE tenants (
			id         TEXT PRIMARY KEY,
			name       TEXT NOT NULL,
			created_at BIGINT NOT NULL
		)`,
		`CREATE TABLE api_keys (
			key_hash   TEXT PRIMARY KEY,
			tenant_id  TEXT NOT NULL REFERENCES tenants (id),
			prefix     TEXT NOT NULL,
			created_at BIGINT NOT NULL
		)`,
		`CREATE TABLE orders (
			id                 TEXT PRIMARY KEY,
			tenant_id          TEXT NOT NULL REFERENCES tenants (id),
			status             TEXT NOT NULL,
			amount             BIGINT NOT NULL,
			currency           TEXT NOT NULL,
			customer_email     TEXT NOT NULL,
			items              TEXT NOT NULL,
			payment_attempt    INTEGER NOT NULL,
			payment_method     TEXT NOT NULL,
			payment_status     TEXT NOT NULL,
			provider_reference TEXT,
			failure_code       TEXT,
			decline_code       TEXT,
			failure_message    TEXT,
			version            BIGINT NOT NULL,
			created_at         BIGINT NOT NULL,
			updated_at         BIGINT NOT NULL
		)`,
		`CREATE INDEX orders_tenant_created ON orders (tenant_id, created_at)`,
	}, nil
}

// Migrate applies writepath's migrations the database has not seen yet,
// then River's. On PostgreSQL it holds an advisory lock throughout, so that
// several instances starting at once apply each migration once. It returns
// how many migrations it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()

	if db.Dialect == idempotency.Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7270216)`); err != nil {
			return 0, fmt.Errorf("migrate: lock: %w", err)
		}
		// Unlock before the connection goes back to the pool: a session lock
		// would otherwise stay with the pooled connection.
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7270216)`)
		}()
	}

	applied, err := db.migrateOwn(ctx, conn)
	if err != nil {
		return applied, err
	}
	if db.Dialect == idempotency.SQLite {
		// River's migrator needs the one connection this one holds.
		if err := conn.Close(); err != nil {
			return applied, fmt.Errorf("migrate: %w", err)
		}
	}
	n, err := db.migrateRiver(ctx)
	return applied + n, err
}

func (db *DB) migrateOwn(ctx context.Context, conn *sql.Conn) (int, error) {
	_, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}

	var current int
	err = conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).
		Scan(&current)
	if err != nil {
		return 0, fmt.Errorf("migrate: read version: %w", err)
	}
	if last := migrations[len(migrations)-1].version; current > last {
		return 0, fmt.Errorf("migrate: database is at version %d, newer than this binary (%d)",
			current, last)
	}

	applied := 0
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		if err := db.apply(ctx, conn, m); err != nil {
			return applied, err
		}
		applied++
	}
	return applied, nil
}

// migrateRiver applies the job queue's own migrations, which River ships.
func (db *DB) migrateRiver(ctx context.Context) (int, error) {
	m, err := rivermigrate.New(db.RiverDriver(), nil)
	if err != nil {
		return 0, fmt.Errorf("migrate river: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, fmt.Errorf("migrate river: %w", err)
	}
	return len(res.Versions), nil
}

func (db *DB) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	stmts, err := m.up(db.Dialect)
	if err != nil {
		return fmt.Errorf("migration %d: %w", m.version, err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d: %w", m.version, err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit

	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at)
		VALUES ($1, $2, $3)`, m.version, m.name, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("migration %d: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d: commit: %w", m.version, err)
	}
	return nil
}
