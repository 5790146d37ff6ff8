package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

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

// Migrate applies the migrations the database has not seen yet. On
// PostgreSQL it holds an advisory lock meanwhile, so that several instances
// starting at once apply each migration once.
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()

	if db.Dialect == idempotency.Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7270216)`); err != nil {
			return 0, fmt.Errorf("migrate: lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7270216)`)
		}()
	}

	_, err = conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
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
