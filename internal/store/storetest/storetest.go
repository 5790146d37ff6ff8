// Package storetest opens migrated test databases: a SQLite file in the
// test's temporary directory, or a PostgreSQL schema of its own that is
// dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/writepath/writepath/internal/store"
)

// PostgresURL returns the PostgreSQL server tests use:
// WRITEPATH_TEST_POSTGRES, or the local server. "off" means none.
func PostgresURL() string {
	if v := os.Getenv("WRITEPATH_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// Engines are the database engines tests run against.
var Engines = []string{"sqlite", "postgres"}

// Each runs fn as one subtest per engine, each with a fresh database URL.
func Each(t *testing.T, fn func(t *testing.T, url string)) {
	t.Helper()
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) { fn(t, URL(t, engine)) })
	}
}

// URL returns the URL of a fresh, empty database of the engine, removed when
// the test ends. For PostgreSQL it is a schema of its own on the test server;
// the test fails if the server cannot be reached, unless
// WRITEPATH_TEST_POSTGRES=off, which skips it.
func URL(t testing.TB, engine string) string {
	t.Helper()
	if engine == "sqlite" {
		return "sqlite:" + filepath.Join(t.TempDir(), "writepath.db")
	}

	base := PostgresURL()
	if base == "off" {
		t.Skip("WRITEPATH_TEST_POSTGRES=off")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "wp_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("PostgreSQL at %s: %v (WRITEPATH_TEST_POSTGRES=off skips these tests)", base, err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", base); err == nil {
			_, _ = a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// Open opens and migrates a fresh database of the engine.
func Open(t testing.TB, engine string) *store.DB {
	t.Helper()
	return OpenURL(t, URL(t, engine))
}

// OpenURL opens and migrates the database at url, closed when the test ends.
func OpenURL(t testing.TB, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}
