package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// WebhookEndpoint is a URL a tenant registered to receive signed events.
type WebhookEndpoint struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"-"`
	URL       string    `json:"url"`
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// InsertWebhookEndpoint stores a new endpoint.
func InsertWebhookEndpoint(ctx context.Context, q Querier, e *WebhookEndpoint) error {
	_, err := q.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, tenant_id, url, secret,
		created_at) VALUES ($1, $2, $3, $4, $5)`, e.ID, e.TenantID, e.URL, e.Secret,
		e.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("insert webhook endpoint: %w", err)
	}
	return nil
}

// WebhookEndpoints lists a tenant's endpoints, oldest first.
func WebhookEndpoints(ctx context.Context, q Querier, tenantID string) ([]*WebhookEndpoint, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, tenant_id, url, secret, created_at
		FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []*WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("list webhook endpoints: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// GetWebhookEndpoint returns a tenant's endpoint, or ErrNotFound.
func GetWebhookEndpoint(ctx context.Context, q Querier, tenantID, id string) (*WebhookEndpoint, error) {
	row := q.QueryRowContext(ctx, `SELECT id, tenant_id, url, secret, created_at
		FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	e, err := scanEndpoint(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get webhook endpoint: %w", err)
	}
	return e, nil
}

func scanEndpoint(row rowScanner) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	var created int64
	if err := row.Scan(&e.ID, &e.TenantID, &e.URL, &e.Secret, &created); err != nil {
		return nil, err
	}
	e.CreatedAt = time.UnixMilli(created).UTC()
	return &e, nil
}

// RecordAnalytics stores an analytics event once; a repeat is ignored.
func RecordAnalytics(ctx context.Context, q Querier, orderID, event string, at time.Time) error {
	_, err := q.ExecContext(ctx, `INSERT INTO analytics_events (order_id, event, created_at)
		VALUES ($1, $2, $3) ON CONFLICT (order_id, event) DO NOTHING`, orderID, event, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("record analytics: %w", err)
	}
	return nil
}
