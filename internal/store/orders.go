package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/writepath/writepath/idempotency"
	"github.com/writepath/writepath/internal/order"
)

// ErrConflict means an update lost a race: the order changed since it was
// read.
var ErrConflict = errors.New("order changed concurrently")

const orderColumns = `id, tenant_id, status, amount, currency, customer_email, items,
	payment_attempt, payment_method, payment_status, provider_reference, failure_code,
	decline_code, failure_message, version, created_at, updated_at, payment_started_at`

// InsertOrder stores a new order.
func InsertOrder(ctx context.Context, q Querier, o *order.Order) error {
	items, err := json.Marshal(o.Items)
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	code, decline, msg := failureColumns(o.Failure)
	_, err = q.ExecContext(ctx, `INSERT INTO orders (`+orderColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		o.ID, o.TenantID, o.Status, o.Amount, o.Currency, o.CustomerEmail, string(items),
		o.Payment.Attempt, o.Payment.Method, o.Payment.Status, o.Payment.ProviderReference,
		code, decline, msg, o.Version, o.CreatedAt.UnixMilli(), o.UpdatedAt.UnixMilli(),
		o.Payment.StartedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("insert order: %w", err)
	}
	return nil
}

// UpdateOrder stores an order's new state. The order must carry the version
// after its change (order.Move bumps it); the update succeeds only if the
// stored order is still at the version before, and returns ErrConflict
// otherwise, so that two writers never overwrite each other's change.
func UpdateOrder(ctx context.Context, q Querier, o *order.Order) error {
	code, decline, msg := failureColumns(o.Failure)
	res, err := q.ExecContext(ctx, `UPDATE orders SET status = $1, payment_attempt = $2,
		payment_method = $3, payment_status = $4, provider_reference = $5, failure_code = $6,
		decline_code = $7, failure_message = $8, version = $9, updated_at = $10,
		payment_started_at = $11
		WHERE id = $12 AND tenant_id = $13 AND version = $14`,
		o.Status, o.Payment.Attempt, o.Payment.Method, o.Payment.Status,
		o.Payment.ProviderReference, code, decline, msg, o.Version, o.UpdatedAt.UnixMilli(),
		o.Payment.StartedAt.UnixMilli(), o.ID, o.TenantID, o.Version-1)
	if err != nil {
		return fmt.Errorf("update order: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("update order %s: %w", o.ID, ErrConflict)
	}
	return nil
}

// ReadOrder returns a tenant's order with its side effects as one
// consistent snapshot: the order's version always matches the effects shown,
// so a watcher that has seen a version has seen everything it stands for.
func (db *DB) ReadOrder(ctx context.Context, tenantID, id string) (*order.Order, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Dialect == idempotency.Postgres {
		// Each statement of a READ COMMITTED transaction sees its own snapshot.
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.SQL.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("read order: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to commit
	return GetOrder(ctx, tx, tenantID, id)
}

// GetOrder returns a tenant's order, or ErrNotFound when there is none with
// that id or it belongs to another tenant. Its two reads (the order, then
// its effects) are consistent only inside a snapshot; see ReadOrder.
func GetOrder(ctx context.Context, q Querier, tenantID, id string) (*order.Order, error) {
	row := q.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders
		WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	o, err := scanOrder(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get order: %w", err)
	}
	if err := loadSideEffects(ctx, q, o); err != nil {
		return nil, err
	}
	return o, nil
}

func loadSideEffects(ctx context.Context, q Querier, o *order.Order) error {
	effects, err := EffectsOfOrder(ctx, q, o.ID)
	if err != nil {
		return fmt.Errorf("get order: %w", err)
	}
	o.SideEffects = sideEffects(effects)
	return nil
}

// ListOrders returns a tenant's most recent orders, newest first.
func ListOrders(ctx context.Context, q Querier, tenantID string, limit int) ([]*order.Order, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders
		WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	defer rows.Close()

	var out []*order.Order
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("list orders: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	rows.Close() // free the connection: on SQLite there is only one
	for _, o := range out {
		if err := loadSideEffects(ctx, q, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CountOrders returns how many orders exist, across tenants.
func CountOrders(ctx context.Context, q Querier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count orders: %w", err)
	}
	return n, nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanOrder(row rowScanner) (*order.Order, error) {
	var (
		o                    order.Order
		items                string
		ref, code, dec, msg  sql.NullString
		createdAt, updatedAt int64
		startedAt            int64
	)
	err := row.Scan(&o.ID, &o.TenantID, &o.Status, &o.Amount, &o.Currency, &o.CustomerEmail,
		&items, &o.Payment.Attempt, &o.Payment.Method, &o.Payment.Status, &ref, &code, &dec,
		&msg, &o.Version, &createdAt, &updatedAt, &startedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(items), &o.Items); err != nil {
		return nil, fmt.Errorf("decode items: %w", err)
	}
	if ref.Valid {
		o.Payment.ProviderReference = &ref.String
	}
	if code.Valid {
		o.Failure = &order.Failure{Code: code.String, DeclineCode: dec.String, Message: msg.String}
	}
	o.CreatedAt = time.UnixMilli(createdAt).UTC()
	o.UpdatedAt = time.UnixMilli(updatedAt).UTC()
	o.Payment.StartedAt = time.UnixMilli(startedAt).UTC()
	if startedAt == 0 { // orders from before the column existed
		o.Payment.StartedAt = o.CreatedAt
	}
	o.SideEffects = []order.SideEffect{}
	return &o, nil
}

func failureColumns(f *order.Failure) (code, decline, msg *string) {
	if f == nil {
		return nil, nil, nil
	}
	return &f.Code, &f.DeclineCode, &f.Message
}

// DeleteOrder removes an order that was never paid nor sent to the provider,
// when the request that created it is undone.
func DeleteOrder(ctx context.Context, q Querier, tenantID, id string) error {
	_, err := q.ExecContext(ctx, `DELETE FROM orders WHERE id = $1 AND tenant_id = $2`,
		id, tenantID)
	if err != nil {
		return fmt.Errorf("delete order: %w", err)
	}
	return nil
}

// TouchOrder bumps an order's version without changing its status, when
// something the order shows (a side effect's status) changed, so that
// watchers of its event stream see a new event.
func TouchOrder(ctx context.Context, q Querier, id string, at time.Time) error {
	_, err := q.ExecContext(ctx, `UPDATE orders SET version = version + 1, updated_at = $1
		WHERE id = $2`, at.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("touch order: %w", err)
	}
	return nil
}
