package idempotency

import "fmt"

// Dialect names the SQL database an Engine runs on. Queries are the same on
// both; only the table definition differs.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DefaultTable is the table name used when Options.Table is empty.
const DefaultTable = "idempotency_keys"

// CreateTableSQL returns the statements that create the table an Engine
// needs, for use in the application's migrations. Times are Unix
// milliseconds, so that both databases compare them the same way.
//
// A row is one key of one scope. state is running (a request holds or held
// the lease), done (the response is stored) or expired (the response was
// dropped after the retention period; the key stays bound to resource_id).
func CreateTableSQL(d Dialect, table string) ([]string, error) {
	blob := "BLOB"
	switch d {
	case SQLite:
	case Postgres:
		blob = "BYTEA"
	default:
		return nil, fmt.Errorf("idempotency: unknown dialect %q", d)
	}
	return []string{
		fmt.Sprintf(`CREATE TABLE %s (
	scope           TEXT    NOT NULL,
	key_hash        TEXT    NOT NULL,
	fingerprint     TEXT    NOT NULL,
	route           TEXT    NOT NULL,
	method          TEXT    NOT NULL,
	path            TEXT    NOT NULL,
	raw_query       TEXT    NOT NULL,
	params          TEXT    NOT NULL,
	request_body    %[2]s,
	state           TEXT    NOT NULL,
	lease_token     TEXT    NOT NULL,
	lease_until     BIGINT  NOT NULL,
	attempts        INTEGER NOT NULL,
	recovery_point  TEXT    NOT NULL,
	resource_id     TEXT    NOT NULL,
	response_status INTEGER,
	response_header TEXT,
	response_body   %[2]s,
	created_at      BIGINT  NOT NULL,
	updated_at      BIGINT  NOT NULL,
	completed_at    BIGINT,
	PRIMARY KEY (scope, key_hash)
)`, table, blob),
		fmt.Sprintf(`CREATE INDEX %[1]s_running ON %[1]s (state, lease_until)`, table),
		fmt.Sprintf(`CREATE INDEX %[1]s_completed ON %[1]s (state, completed_at)`, table),
	}, nil
}
