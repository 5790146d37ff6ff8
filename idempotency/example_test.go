package idempotency_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite"

	"github.com/writepath/writepath/idempotency"
)

// This example makes a "create greeting" endpoint idempotent: the second
// request with the same key gets the first answer again, and the greeting
// is stored once.
func Example() {
	dir, _ := os.MkdirTemp("", "idempotency-example")
	defer os.RemoveAll(dir)
	db, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, "example.db")+
		"?_pragma=journal_mode(WAL)")
	db.SetMaxOpenConns(1)
	defer db.Close()

	stmts, _ := idempotency.CreateTableSQL(idempotency.SQLite, idempotency.DefaultTable)
	stmts = append(stmts, `CREATE TABLE greetings (id INTEGER PRIMARY KEY, text TEXT)`)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			fmt.Println(err)
			return
		}
	}

	engine, _ := idempotency.New(idempotency.Options{
		DB:    db,
		Scope: func(r *http.Request) string { return r.Header.Get("X-Account") },
	})
	create := func(ctx context.Context, c *idempotency.Call) (*idempotency.Response, error) {
		return c.Finish(ctx, func(tx *sql.Tx) (*idempotency.Response, error) {
			res, err := tx.ExecContext(ctx, `INSERT INTO greetings (text) VALUES ($1)`,
				string(c.Body))
			if err != nil {
				return nil, err
			}
			id, _ := res.LastInsertId()
			return &idempotency.Response{Status: http.StatusCreated,
				Body: fmt.Appendf(nil, `{"id":%d}`, id)}, nil
		})
	}
	mux := http.NewServeMux()
	mux.Handle("POST /greetings", engine.Handle(idempotency.Route{
		Pattern: "POST /greetings", Run: create}))

	for range 2 {
		r := httptest.NewRequest("POST", "/greetings", strings.NewReader("hello"))
		r.Header.Set("X-Account", "acme")
		r.Header.Set("Idempotency-Key", "greet-1")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Body.String(), "replayed:", w.Header().Get("Idempotent-Replayed"))
	}
	var n int
	_ = db.QueryRow(`SELECT count(*) FROM greetings`).Scan(&n)
	fmt.Println("greetings stored:", n)
	// Output:
	// 201 {"id":1} replayed: false
	// 201 {"id":1} replayed: true
	// greetings stored: 1
}
