package ldapmaps

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Options say how to reach the directory and whose entries to read.
type Options struct {
	// URL is ldap://HOST[:PORT] or ldaps://HOST[:PORT].
	URL string
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool
	// Base is the search base; BindDN and Password the simple bind ("":
	// anonymous).
	Base, BindDN, Password string
	// CAFile verifies the directory's certificate ("": system roots).
	CAFile string
	// Cluster is sendmailMTACluster, Host sendmailMTAHost (sendmail's $j).
	Cluster, Host string
	// Timeout bounds connecting and each request.
	Timeout time.Duration
}

// Source reads maps from one directory.
type Source struct {
	opt Options
	tls *tls.Config
}

// pageSize is the paged-results size (RFC 2696): a large map comes in
// pages, not over a server's size limit.
const pageSize = 500

// New checks the options and loads the CA file.
func New(opt Options) (*Source, error) {
	u, err := url.Parse(opt.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return nil, fmt.Errorf("ldap url %q: want ldap://HOST[:PORT] or ldaps://HOST[:PORT]", opt.URL)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if opt.CAFile != "" {
		pem, err := os.ReadFile(opt.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldap ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldap ca_file %s: no PEM certificate in it", opt.CAFile)
		}
		tc.RootCAs = pool
	}
	return &Source{opt: opt, tls: tc}, nil
}

// Where names file's source in messages: the directory, base and map.
func (s *Source) Where(file string) string {
	return fmt.Sprintf("%s base %q (%s)", s.opt.URL, s.opt.Base, file)
}

// Fetch reads file's map whole and returns it in the file's text format.
func (s *Source) Fetch(ctx context.Context, file string) ([]byte, error) {
	q, err := QueryFor(file, s.opt.Cluster, s.opt.Host)
	if err != nil {
		return nil, err
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Where(file), err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	req := ldap.NewSearchRequest(s.opt.Base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0,
		int(s.opt.Timeout/time.Second), false, q.Filter, q.Attrs, nil)
	res, err := conn.SearchWithPaging(req, pageSize)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("%s: search %s: %w", s.Where(file), q.Filter, err)
	}
	entries := make([]Entry, 0, len(res.Entries))
	for _, e := range res.Entries {
		en := Entry{DN: e.DN, Attrs: map[string][]string{}}
		for _, a := range e.Attributes {
			en.Attrs[a.Name] = a.Values
		}
		entries = append(entries, en)
	}
	return Render(file, entries)
}

// connect dials, upgrades with StartTLS when asked, and binds.
func (s *Source) connect(ctx context.Context) (*ldap.Conn, error) {
	d := &net.Dialer{Timeout: s.opt.Timeout}
	if dl, ok := ctx.Deadline(); ok {
		d.Deadline = dl
	}
	conn, err := ldap.DialURL(s.opt.URL, ldap.DialWithDialer(d), ldap.DialWithTLSConfig(s.tls))
	if err != nil {
		return nil, err
	}
	conn.SetTimeout(s.opt.Timeout)
	if s.opt.StartTLS {
		if err := conn.StartTLS(s.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	if s.opt.BindDN != "" {
		if err := conn.Bind(s.opt.BindDN, s.opt.Password); err != nil {
			conn.Close()
			var le *ldap.Error
			if errors.As(err, &le) && le.ResultCode == ldap.LDAPResultInvalidCredentials {
				return nil, fmt.Errorf("bind as %q: wrong password (check password_file)", s.opt.BindDN)
			}
			return nil, fmt.Errorf("bind as %q: %w", s.opt.BindDN, err)
		}
	}
	return conn, nil
}
