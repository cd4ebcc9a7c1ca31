package config

import (
	"fmt"

	"postern/internal/milter/spec"
)

// Milter is one [[milter]] table: a mail filter (opendkim, rspamd,
// spamass-milter...) spoken to over the sendmail milter protocol, like
// sendmail's INPUT_MAIL_FILTER(`name', `S=..., F=..., T=...').
type Milter struct {
	// Name is for logs and rules; defaults to milter-1, milter-2...
	Name string `toml:"name"`
	// Socket is sendmail's S=: "unix:/path", "inet:port@host" or
	// "inet:host:port".
	Socket string `toml:"socket"`
	// Flags is sendmail's F=: "T" answers 4xx (try later) and "R" 5xx
	// when the milter is down; "" (the default) passes mail on without it.
	Flags string `toml:"flags"`
	// Timeouts is sendmail's T=, such as "C:10s;S:10s;R:10s;E:5m"
	// (connect, send, read, end of message); letters left out keep those
	// defaults.
	Timeouts string `toml:"timeouts"`
	// Listeners names the listeners the milter applies to; empty means
	// all of them.
	Listeners []string `toml:"listeners"`
}

// milters validates the [[milter]] tables; listeners must be done first.
func (d *decoder) milters(c *Config) {
	names := map[string]bool{}
	listeners := map[string]bool{}
	for _, l := range c.Listeners {
		listeners[l.Name] = true
	}
	for i := range c.Milters {
		m := &c.Milters[i]
		p := indexPath("milter", i)
		if m.Name == "" {
			m.Name = fmt.Sprintf("milter-%d", i+1)
		}
		if names[m.Name] {
			d.errorf(p+".name", "milter %d: name %q is used twice", i+1, m.Name)
		}
		names[m.Name] = true
		if m.Socket == "" {
			d.errorf(p, "milter %s: socket is missing (such as \"inet:8891@127.0.0.1\" or \"unix:/run/opendkim/opendkim.sock\")", m.Name)
		} else if _, err := spec.ParseSocket(m.Socket); err != nil {
			d.errorf(p+".socket", "milter %s: %v", m.Name, err)
		}
		if f, err := spec.ParseFlags(m.Flags); err != nil {
			d.errorf(p+".flags", "milter %s: %v", m.Name, err)
		} else if f == spec.Continue {
			d.warnf(p+".flags", "milter %s: no flags: when it is down mail passes unfiltered (set flags = \"T\" to answer 4xx instead)", m.Name)
		}
		if _, err := spec.ParseTimeouts(m.Timeouts); err != nil {
			d.errorf(p+".timeouts", "milter %s: %v", m.Name, err)
		}
		for j, l := range m.Listeners {
			if !listeners[l] {
				d.errorf(indexPath(p+".listeners", j), "milter %s: no listener is named %q", m.Name, l)
			}
		}
	}
}
