package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// APIKeyPrefix starts every API key, so that a leaked key is easy to
// recognise in logs and by secret scanners.
const APIKeyPrefix = "wp_"

// Tenant is one customer of the service; its API keys and orders belong to it.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// CreateTenant creates a tenant with one new API key and returns both. Only
// a hash of the key is stored: the returned key cannot be read back later.
func (db *DB) CreateTenant(ctx context.Context, name string) (Tenant, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return Tenant{}, "", errors.New("create tenant: name must be 1 to 200 characters")
	}
	t := Tenant{ID: NewID("ten"), Name: name, CreatedAt: time.Now().UTC()}
	var key string
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (id, name, created_at)
			VALUES ($1, $2, $3)`, t.ID, t.Name, t.CreatedAt.UnixMilli())
		if err != nil {
			return err
		}
		key, err = insertAPIKey(ctx, tx, t.ID)
		return err
	})
	if err != nil {
		return Tenant{}, "", fmt.Errorf("create tenant: %w", err)
	}
	return t, key, nil
}

// TenantByAPIKey returns the tenant an API key belongs to, or ErrNotFound.
func (db *DB) TenantByAPIKey(ctx context.Context, key string) (Tenant, error) {
	var t Tenant
	var created int64
	err := db.SQL.QueryRowContext(ctx, `SELECT t.id, t.name, t.created_at
		FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.key_hash = $1`,
		hashAPIKey(key)).Scan(&t.ID, &t.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Tenant{}, ErrNotFound
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("find api key: %w", err)
	}
	t.CreatedAt = time.UnixMilli(created).UTC()
	return t, nil
}

// hashAPIKey is how keys are stored. API keys are long random strings, so a
// plain SHA-256 is enough: there is nothing to guess that a slow hash would
// protect.
func hashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// NewID returns a new random id with a type prefix, such as "ord_...".
func NewID(prefix string) string { return prefix + "_" + randomString(20) }

// randomString returns n characters of crypto-random URL-safe base64.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// DemoAPIKey returns a new API key of the tenant named name, creating the
// tenant if it does not exist yet. Each call adds a key; earlier keys stay
// valid.
func (db *DB) DemoAPIKey(ctx context.Context, name string) (Tenant, string, error) {
	var t Tenant
	var created int64
	err := db.SQL.QueryRowContext(ctx, `SELECT id, name, created_at FROM tenants
		WHERE name = $1 ORDER BY created_at LIMIT 1`, name).Scan(&t.ID, &t.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return db.CreateTenant(ctx, name)
	}
	if err != nil {
		return Tenant{}, "", fmt.Errorf("find tenant %s: %w", name, err)
	}
	t.CreatedAt = time.UnixMilli(created).UTC()

	key, err := insertAPIKey(ctx, db.SQL, t.ID)
	if err != nil {
		return Tenant{}, "", fmt.Errorf("add api key: %w", err)
	}
	return t, key, nil
}

// insertAPIKey stores the hash of a new API key of a tenant and returns the
// key.
func insertAPIKey(ctx context.Context, q Querier, tenantID string) (string, error) {
	key := APIKeyPrefix + randomString(32)
	_, err := q.ExecContext(ctx, `INSERT INTO api_keys (key_hash, tenant_id, prefix, created_at)
		VALUES ($1, $2, $3, $4)`, hashAPIKey(key), tenantID, key[:len(APIKeyPrefix)+4],
		time.Now().UnixMilli())
	return key, err
}
