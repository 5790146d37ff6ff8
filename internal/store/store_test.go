package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/writepath/writepath/internal/order"
	"github.com/writepath/writepath/internal/store"
	"github.com/writepath/writepath/internal/store/storetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		db := storetest.OpenURL(t, url)
		n, err := db.Migrate(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("second Migrate: applied %d, %v; want 0, nil", n, err)
		}
	})
}

func TestAPIKeysFindTheirTenantAndAreStoredHashed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		db := storetest.OpenURL(t, url)
		ctx := context.Background()
		tenant, key, err := db.CreateTenant(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}

		got, err := db.TenantByAPIKey(ctx, key)
		if err != nil || got.ID != tenant.ID || got.Name != "acme" {
			t.Fatalf("TenantByAPIKey: %+v, %v; want %+v", got, err, tenant)
		}
		if _, err := db.TenantByAPIKey(ctx, key+"x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown key: %v, want ErrNotFound", err)
		}

		var stored int
		err = db.SQL.QueryRow(`SELECT count(*) FROM api_keys WHERE key_hash = $1 OR prefix = $1`,
			key).Scan(&stored)
		if err != nil || stored != 0 {
			t.Errorf("the key itself is stored (%d rows, %v)", stored, err)
		}
	})
}

func TestOrdersAreScopedToTheirTenantAndVersioned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, url string) {
		db := storetest.OpenURL(t, url)
		ctx := context.Background()
		acme, _, _ := db.CreateTenant(ctx, "acme")
		globex, _, _ := db.CreateTenant(ctx, "globex")

		now := time.Now().UTC().Truncate(time.Millisecond)
		o := &order.Order{ID: store.NewID("ord"), TenantID: acme.ID, Status: order.Pending,
			Amount: 2500, Currency: "usd", CustomerEmail: "ada@example.com",
			Items:   []order.Item{{SKU: "tea-01", Quantity: 2, UnitAmount: 1250}},
			Payment: order.Payment{Attempt: 1, Method: "pm_card_visa", Status: order.PaymentNotStarted},
			Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := store.InsertOrder(ctx, db.SQL, o); err != nil {
			t.Fatal(err)
		}

		if _, err := store.GetOrder(ctx, db.SQL, globex.ID, o.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other tenant's order: %v, want ErrNotFound", err)
		}

		stale := *o
		if err := o.Move(order.Processing, order.PaymentInFlight, now); err != nil {
			t.Fatal(err)
		}
		if err := store.UpdateOrder(ctx, db.SQL, o); err != nil {
			t.Fatal(err)
		}
		_ = stale.Move(order.Queued, order.PaymentDeferred, now)
		if err := store.UpdateOrder(ctx, db.SQL, &stale); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("stale update: %v, want ErrConflict", err)
		}

		got, err := store.GetOrder(ctx, db.SQL, acme.ID, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != order.Processing || got.Version != 2 || got.Items[0].SKU != "tea-01" ||
			!got.CreatedAt.Equal(now) {
			t.Errorf("read back %+v", got)
		}
	})
}
