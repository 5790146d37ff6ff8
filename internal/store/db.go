package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/writepath/writepath/idempotency"
)

// ErrNotFound means the row asked for does not exist, or belongs to another
// tenant.
var ErrNotFound = errors.New("not found")

// Querier is what *sql.DB and *sql.Tx have in common.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is an open database.
type DB struct {
	// SQL is the connection pool. On SQLite it has exactly one connection,
	// shared by the whole process: a transaction held anywhere stalls every
	// other query, so transactions must stay short and never wait on the
	// network.
	SQL *sql.DB

	// Dialect says which database this is.
	Dialect idempotency.Dialect

	// listen holds the connections River listens on for new jobs, on
	// PostgreSQL; nil on SQLite, where River polls a table instead.
	listen *pgxpool.Pool
}

// Open opens the database a URL names: "sqlite:PATH" (query parameter
// synchronous=normal trades power-loss durability for speed; the default is
// full) or "postgres://...". It does not migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	var db *DB
	var err error
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		db, err = openSQLite(strings.TrimPrefix(rawURL, "sqlite:"))
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err = openPostgres(rawURL)
	default:
		return nil, fmt.Errorf("database %q: want sqlite:PATH or postgres://HOST/DB", redact(rawURL))
	}
	if err != nil {
		return nil, err
	}
	if err := db.SQL.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", redact(rawURL), err)
	}
	return db, nil
}

// openSQLite opens a SQLite file in WAL mode with one connection. WAL lets
// readers of other processes (backups, the sqlite3 shell) run beside the
// writer; the single connection serializes the process's writes without
// "database is locked" errors.
func openSQLite(spec string) (*DB, error) {
	path, query, _ := strings.Cut(spec, "?")
	if path == "" {
		return nil, errors.New("database sqlite: empty path")
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("database sqlite: %w", err)
	}
	sync := strings.ToUpper(params.Get("synchronous"))
	switch sync {
	case "":
		sync = "FULL"
	case "FULL", "NORMAL":
	default:
		return nil, fmt.Errorf("database sqlite: synchronous=%s: want full or normal", sync)
	}

	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(" + sync + ")&_txlock=immediate"
	sqlDB, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("database sqlite: %w", err)
	}
	sqlDB.SetMaxOpenConns(1)
	sqlDB.SetMaxIdleConns(1)
	sqlDB.SetConnMaxIdleTime(0)
	sqlDB.SetConnMaxLifetime(0)
	return &DB{SQL: sqlDB, Dialect: idempotency.SQLite}, nil
}

func openPostgres(rawURL string) (*DB, error) {
	sqlDB, err := sql.Open("pgx", rawURL)
	if err != nil {
		return nil, fmt.Errorf("database postgres: %w", err)
	}
	sqlDB.SetMaxOpenConns(16)
	sqlDB.SetMaxIdleConns(16)

	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("database postgres: %w", err)
	}
	cfg.MaxConns = 2
	listen, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("database postgres: listener: %w", err)
	}
	return &DB{SQL: sqlDB, Dialect: idempotency.Postgres, listen: listen}, nil
}

// RiverDriver returns the job queue's driver for this database. Both
// drivers work on *sql.Tx, so jobs are inserted in the same transactions as
// the rows they belong to, on either database.
func (db *DB) RiverDriver() riverdriver.Driver[*sql.Tx] {
	if db.Dialect == idempotency.Postgres {
		// LISTEN/NOTIFY tells every instance of a new job at once, instead
		// of at its next poll.
		return riverdatabasesql.NewWithPgxListener(db.SQL, db.listen)
	}
	return riversqlite.New(db.SQL)
}

// Close closes the database.
func (db *DB) Close() error {
	if db.listen != nil {
		db.listen.Close()
	}
	return db.SQL.Close()
}

// Tx runs fn in a transaction and commits it if fn returns nil.
func (db *DB) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// redact hides a password in a database URL, for messages and logs.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
