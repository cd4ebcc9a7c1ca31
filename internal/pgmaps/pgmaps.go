// Package pgmaps reads sendmail's maps from a PostgreSQL table, for a
// fleet of gateways that share them, with the layout docs/maps.md gives:
//
//	CREATE TABLE postern_maps (
//	    map   text NOT NULL,   -- access, virtusertable, genericstable, mailertable,
//	                           -- aliases, local-host-names, relay-domains
//	    key   text NOT NULL,   -- the key; for local-host-names and relay-domains the name
//	    value text NOT NULL DEFAULT '',  -- the value; for aliases the targets, comma-separated
//	    PRIMARY KEY (map, key)
//	);
//
// Each map is read whole and given to internal/maps in its file's text
// (maps.RenderRows), so that one parser, with sendmail's lookup order,
// judges every source.
package pgmaps

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"

	"postern/internal/maps"
)

// Options say how to reach the database and which table to read.
type Options struct {
	// URL is a libpq URL (postgres://USER@HOST:PORT/DB?sslmode=verify-full).
	URL string
	// Password, when set, is used instead of one in the URL.
	Password string
	// Table is the table's name (default postern_maps).
	Table string
	// Timeout bounds connecting and the query.
	Timeout time.Duration
}

// Source reads maps from one table.
type Source struct {
	cfg   *pgx.ConnConfig
	where string
	query string
}

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$`)

// New checks the options; it does not connect.
func New(opt Options) (*Source, error) {
	if opt.Table == "" {
		opt.Table = "postern_maps"
	}
	cfg, where, err := Conn("postgres_maps", opt)
	if err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, where: where,
		query: "SELECT key, value FROM " + opt.Table + " WHERE map = $1"}, nil
}

// Conn checks opt for the table of config section key (postgres_maps,
// postgres_users) and returns the connection's settings and a name of
// the table for messages, without the password. It does not connect.
func Conn(key string, opt Options) (*pgx.ConnConfig, string, error) {
	if !tableName.MatchString(opt.Table) {
		return nil, "", fmt.Errorf("%s.table %q: want a lower-case name, optionally schema.name", key, opt.Table)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	cfg, err := pgx.ParseConfig(opt.URL)
	if err != nil {
		return nil, "", fmt.Errorf("%s.url: %w", key, err)
	}
	if opt.Password != "" {
		cfg.Password = opt.Password
	}
	cfg.ConnectTimeout = opt.Timeout
	where := opt.URL
	if u, err := url.Parse(opt.URL); err == nil {
		u.User = nil
		where = u.Redacted()
	}
	return cfg, where + " table " + opt.Table, nil
}

// Where names file's source in messages (without the password).
func (s *Source) Where(file string) string { return fmt.Sprintf("%s (%s)", s.where, file) }

// Fetch reads file's map whole and returns it in the file's text.
func (s *Source) Fetch(ctx context.Context, file string) ([]byte, error) {
	conn, err := pgx.ConnectConfig(ctx, s.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Where(file), err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, s.query, file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Where(file), err)
	}
	var out []maps.Row
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%s: %w", s.Where(file), err)
		}
		r := maps.Row{Key: k, Values: []string{v}, Origin: fmt.Sprintf("row (%q, %q)", file, k)}
		if file == maps.FileLocalHostNames || file == maps.FileRelayDomains {
			r = maps.Row{Values: []string{k}, Origin: r.Origin}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Where(file), err)
	}
	text, err := maps.RenderRows(file, out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Where(file), err)
	}
	return text, nil
}
