package idempotency_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/writepath/writepath/idempotency"
)

// testPostgresURL is the server the PostgreSQL variants run against;
// WRITEPATH_TEST_POSTGRES overrides it, and "off" skips them.
func testPostgresURL() string {
	if v := os.Getenv("WRITEPATH_TEST_POSTGRES"); v != "" {
		return v
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// eachDB runs fn as a subtest on a fresh SQLite file and on a fresh
// PostgreSQL schema, each with the engine's table and a "effects" table
// that the test operations write to.
func eachDB(t *testing.T, fn func(t *testing.T, db *sql.DB, d idempotency.Dialect)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t), idempotency.SQLite) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres(t), idempotency.Postgres) })
}

func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	db, err := sql.Open("sqlite", "file:"+path+
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	createTables(t, db, idempotency.SQLite)
	return db
}

func openPostgres(t *testing.T) *sql.DB {
	t.Helper()
	url := testPostgresURL()
	if url == "off" {
		t.Skip("WRITEPATH_TEST_POSTGRES=off")
	}
	admin, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Ping(); err != nil {
		t.Fatalf("PostgreSQL at %s: %v (set WRITEPATH_TEST_POSTGRES=off to skip)", url, err)
	}

	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "idem_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", url)
		if err == nil {
			_, _ = a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})

	db, err := sql.Open("pgx", url+"&search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(8)
	t.Cleanup(func() { db.Close() })
	createTables(t, db, idempotency.Postgres)
	return db
}

func createTables(t *testing.T, db *sql.DB, d idempotency.Dialect) {
	t.Helper()
	stmts, err := idempotency.CreateTableSQL(d, idempotency.DefaultTable)
	if err != nil {
		t.Fatal(err)
	}
	stmts = append(stmts, `CREATE TABLE effects (id TEXT PRIMARY KEY, scope TEXT NOT NULL,
		amount INTEGER NOT NULL, step TEXT NOT NULL)`)
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func countEffects(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM effects`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return fmt.Sprintf("eff_%x", b)
}
