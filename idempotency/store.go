package idempotency

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Record states, as stored in the state column.
const (
	stateRunning = "running"
	stateDone    = "done"
	stateExpired = "expired"
)

// record is one row of the table: a key of a scope and what became of it.
type record struct {
	Scope         string
	KeyHash       string
	Fingerprint   string
	Route         string
	Method        string
	Path          string
	RawQuery      string
	Params        map[string]string
	RequestBody   []byte
	State         string
	LeaseToken    string
	LeaseUntil    time.Time
	Attempts      int
	RecoveryPoint string
	ResourceID    string
	Status        int
	Header        http.Header
	Body          []byte
	CreatedAt     time.Time

	forgotten bool // Call.Forget deleted the row
}

// store runs the table's queries. The SQL is the same on SQLite and PostgreSQL:
// $n placeholders, ON CONFLICT and RETURNING work on both.
type store struct {
	db    *sql.DB
	table string
}

var errNoRecord = errors.New("no record")

// insert claims a key: it reports true when this call created the row and
// false when the key already had one. It never reads first, so two racing
// requests cannot both win.
func (s *store) insert(ctx context.Context, r *record) (bool, error) {
	params, err := json.Marshal(r.Params)
	if err != nil {
		return false, fmt.Errorf("encode params: %w", err)
	}
	now := ms(r.CreatedAt)
	res, err := s.db.ExecContext(ctx, `INSERT INTO `+s.table+` (scope, key_hash,
		fingerprint, route, method, path, raw_query, params, request_body, state,
		lease_token, lease_until, attempts, recovery_point, resource_id,
		created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, '', '', $13, $13)
		ON CONFLICT (scope, key_hash) DO NOTHING`,
		r.Scope, r.KeyHash, r.Fingerprint, r.Route, r.Method, r.Path, r.RawQuery,
		string(params), r.RequestBody, stateRunning, r.LeaseToken, ms(r.LeaseUntil), now)
	if err != nil {
		return false, fmt.Errorf("claim key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim key: %w", err)
	}
	return n == 1, nil
}

const selectColumns = `scope, key_hash, fingerprint, route, method, path, raw_query,
	params, request_body, state, lease_token, lease_until, attempts, recovery_point,
	resource_id, response_status, response_header, response_body, created_at`

// load reads one record, or returns errNoRecord.
func (s *store) load(ctx context.Context, scope, keyHash string) (*record, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+selectColumns+` FROM `+s.table+`
		WHERE scope = $1 AND key_hash = $2`, scope, keyHash)
	r, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoRecord
	}
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	return r, nil
}

// abandoned lists running records whose lease has expired and that committed
// at least one step: requests whose process died or gave up half way.
func (s *store) abandoned(ctx context.Context, now time.Time, limit int) ([]*record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+selectColumns+` FROM `+s.table+`
		WHERE state = $1 AND lease_until <= $2 AND recovery_point <> ''
		ORDER BY lease_until LIMIT $3`, stateRunning, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("list abandoned keys: %w", err)
	}
	defer rows.Close()

	var out []*record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("list abandoned keys: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanRecord(row scanner) (*record, error) {
	var (
		r                         record
		params                    string
		leaseUntil, createdAt     int64
		status                    sql.NullInt64
		header                    sql.NullString
		requestBody, responseBody []byte
	)
	err := row.Scan(&r.Scope, &r.KeyHash, &r.Fingerprint, &r.Route, &r.Method, &r.Path,
		&r.RawQuery, &params, &requestBody, &r.State, &r.LeaseToken, &leaseUntil,
		&r.Attempts, &r.RecoveryPoint, &r.ResourceID, &status, &header, &responseBody,
		&createdAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(params), &r.Params); err != nil {
		return nil, fmt.Errorf("decode params: %w", err)
	}
	if header.Valid {
		if err := json.Unmarshal([]byte(header.String), &r.Header); err != nil {
			return nil, fmt.Errorf("decode response header: %w", err)
		}
	}
	r.RequestBody, r.Body = requestBody, responseBody
	r.Status = int(status.Int64)
	r.LeaseUntil, r.CreatedAt = fromMS(leaseUntil), fromMS(createdAt)
	return &r, nil
}

// takeOver moves the lease of a running record whose lease has expired from
// oldToken to newToken. It returns the record's recovery point and resource as
// they are at the moment of the take-over, read in the same statement, so
// that a step the old holder committed just before is not missed.
func (s *store) takeOver(ctx context.Context, r *record, newToken string,
	until, now time.Time) (bool, error) {
	row := s.db.QueryRowContext(ctx, `UPDATE `+s.table+`
		SET lease_token = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
		WHERE scope = $4 AND key_hash = $5 AND lease_token = $6 AND state = $7
		AND lease_until <= $3
		RETURNING recovery_point, resource_id, attempts`,
		newToken, ms(until), ms(now), r.Scope, r.KeyHash, r.LeaseToken, stateRunning)
	err := row.Scan(&r.RecoveryPoint, &r.ResourceID, &r.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("take over key: %w", err)
	}
	r.LeaseToken, r.LeaseUntil = newToken, until
	return true, nil
}

// advance records a committed step inside the step's transaction, on the
// condition that the caller still holds the lease.
func (s *store) advance(ctx context.Context, tx *sql.Tx, r *record, point, resource string,
	now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE `+s.table+`
		SET recovery_point = $1, resource_id = $2, updated_at = $3
		WHERE scope = $4 AND key_hash = $5 AND lease_token = $6 AND state = $7`,
		point, resource, ms(now), r.Scope, r.KeyHash, r.LeaseToken, stateRunning)
	return leaseHeld(res, err, "record step")
}

// complete stores the response inside the final step's transaction, on the
// condition that the caller still holds the lease. The request body is no
// longer needed once the request cannot be resumed.
func (s *store) complete(ctx context.Context, tx *sql.Tx, r *record, resp *Response,
	now time.Time) error {
	header, err := json.Marshal(resp.Header)
	if err != nil {
		return fmt.Errorf("encode response header: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE `+s.table+`
		SET state = $1, response_status = $2, response_header = $3, response_body = $4,
		request_body = NULL, completed_at = $5, updated_at = $5
		WHERE scope = $6 AND key_hash = $7 AND lease_token = $8 AND state = $9`,
		stateDone, resp.Status, string(header), resp.Body, ms(now),
		r.Scope, r.KeyHash, r.LeaseToken, stateRunning)
	return leaseHeld(res, err, "store response")
}

// release gives the lease up until a time, so that a retry or the completer
// can resume the request after it.
func (s *store) release(ctx context.Context, r *record, until, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE `+s.table+`
		SET lease_until = $1, updated_at = $2
		WHERE scope = $3 AND key_hash = $4 AND lease_token = $5 AND state = $6`,
		ms(until), ms(now), r.Scope, r.KeyHash, r.LeaseToken, stateRunning)
	return leaseHeld(res, err, "release key")
}

// unclaim deletes a claim that committed nothing, so that the key is free for
// a corrected request.
func (s *store) unclaim(ctx context.Context, r *record) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM `+s.table+`
		WHERE scope = $1 AND key_hash = $2 AND lease_token = $3 AND state = $4
		AND recovery_point = ''`,
		r.Scope, r.KeyHash, r.LeaseToken, stateRunning)
	return leaseHeld(res, err, "release claim")
}

// forget deletes a running record inside the transaction that undoes its
// request, on the condition that the caller still holds the lease.
func (s *store) forget(ctx context.Context, tx *sql.Tx, r *record) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM `+s.table+`
		WHERE scope = $1 AND key_hash = $2 AND lease_token = $3 AND state = $4`,
		r.Scope, r.KeyHash, r.LeaseToken, stateRunning)
	return leaseHeld(res, err, "forget key")
}

// reap drops what the retention period no longer requires and reports how
// many records it changed. Stored responses completed before cutoff are
// dropped; the key stays bound to its resource for good, and a record without
// a resource is deleted. Claims that never committed a step and whose lease
// ended before cutoff are deleted too.
func (s *store) reap(ctx context.Context, cutoff, now time.Time) (int64, error) {
	var total int64
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM ` + s.table + ` WHERE state = $1 AND completed_at < $2
			AND resource_id = ''`, []any{stateDone, ms(cutoff)}},
		{`UPDATE ` + s.table + ` SET state = $1, response_status = NULL,
			response_header = NULL, response_body = NULL, updated_at = $2
			WHERE state = $3 AND completed_at < $4`,
			[]any{stateExpired, ms(now), stateDone, ms(cutoff)}},
		{`DELETE FROM ` + s.table + ` WHERE state = $1 AND recovery_point = ''
			AND lease_until < $2`, []any{stateRunning, ms(cutoff)}},
	} {
		res, err := s.db.ExecContext(ctx, q.sql, q.args...)
		if err != nil {
			return total, fmt.Errorf("reap keys: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

func leaseHeld(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n != 1 {
		return ErrLeaseLost
	}
	return nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v) }
