// Package pgusers keeps the AUTH users in a PostgreSQL table, for a
// fleet of servers that share them, with the layout docs/maps.md gives:
//
//	CREATE TABLE postern_users (
//	    address   text PRIMARY KEY,               -- normalized: lower case, IDNA A-labels
//	    hash      text NOT NULL,                  -- argon2id or bcrypt, as in the users file; '*' for none
//	    suspended boolean NOT NULL DEFAULT false,  -- no login, mail held
//	    revoked   boolean NOT NULL DEFAULT false,  -- no password works until passwd
//	    admin     boolean NOT NULL DEFAULT false   -- may log in to the web console
//	);
//
// A Source is the users.Remote of a users.Store: the server reads the
// table whole every refresh, and `postern user` changes one row in a
// transaction. The rows are judged by users.FromRows, the users file's
// checks.
package pgusers

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"postern/internal/pgmaps"
	"postern/internal/users"
)

// Source is one users table.
type Source struct {
	cfg   *pgx.ConnConfig
	where string
	table string
}

// New checks the options (pgmaps.Options; the table's default is
// postern_users); it does not connect.
func New(opt pgmaps.Options) (*Source, error) {
	if opt.Table == "" {
		opt.Table = "postern_users"
	}
	cfg, where, err := pgmaps.Conn("postgres_users", opt)
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, where: where, table: opt.Table}, nil
}

// Where names the table in messages, without the password.
func (s *Source) Where() string { return s.where }

const columns = "address, hash, suspended, revoked, admin"

// Fetch reads every row.
func (s *Source) Fetch(ctx context.Context) ([]users.Row, error) {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT "+columns+" FROM "+s.table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	out, err := pgx.CollectRows(rows, scanRow)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.where, err)
	}
	return out, nil
}

func scanRow(r pgx.CollectableRow) (users.Row, error) {
	var u users.Row
	err := r.Scan(&u.Address, &u.Hash, &u.Suspended, &u.Revoked, &u.Admin)
	return u, err
}

// Update changes addr's row in one transaction, the row locked while fn
// decides (users.Remote).
func (s *Source) Update(ctx context.Context, addr string, fn func(users.Row, bool) (users.Row, bool, error)) error {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	defer conn.Close(context.Background())
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, "SELECT "+columns+" FROM "+s.table+" WHERE address = $1 FOR UPDATE", addr)
		if err != nil {
			return err
		}
		old, err := pgx.CollectExactlyOneRow(rows, scanRow)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		row, keep, err := fn(old, found)
		if err != nil {
			return err
		}
		row.Address = addr
		switch {
		case keep && found:
			_, err = tx.Exec(ctx, "UPDATE "+s.table+" SET hash = $2, suspended = $3, revoked = $4, admin = $5 WHERE address = $1",
				row.Address, row.Hash, row.Suspended, row.Revoked, row.Admin)
		case keep:
			_, err = tx.Exec(ctx, "INSERT INTO "+s.table+" ("+columns+") VALUES ($1, $2, $3, $4, $5)",
				row.Address, row.Hash, row.Suspended, row.Revoked, row.Admin)
		case found:
			_, err = tx.Exec(ctx, "DELETE FROM "+s.table+" WHERE address = $1", addr)
		}
		return err
	})
	if err != nil && !errors.Is(err, users.ErrExists) && !errors.Is(err, users.ErrNotFound) {
		return fmt.Errorf("%s: %w", s.where, err)
	}
	return err
}
