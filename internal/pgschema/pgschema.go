// Package pgschema creates the tables a PostgreSQL backend needs when
// they are missing, once per database even when several nodes start at
// the same moment.
package pgschema

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Beginner is a connection or pool that starts transactions.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Create runs schema (CREATE ... IF NOT EXISTS statements) in one
// transaction under the advisory lock lock: two nodes creating the same
// tables at once would otherwise collide in the catalogue; the second
// waits, then finds them.
func Create(ctx context.Context, db Beginner, lock int64, schema string) error {
	return pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
}
