// Package store keeps writepath's data in SQLite or PostgreSQL.
//
// It is the storage boundary of the service: the HTTP and checkout code call
// its functions and never write SQL of their own. Both databases are reached
// through database/sql, and every query is written once in the SQL both
// accept ($n placeholders, ON CONFLICT, RETURNING); only the table
// definitions differ, in the migrations. Times are stored as Unix
// milliseconds.
//
// Functions that take a Querier run on the database or inside a transaction,
// so that an order, its idempotency record and its jobs commit together.
package store
