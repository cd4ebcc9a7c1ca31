package status

import (
	"errors"
	"strings"
	"testing"

	"postern/internal/maps"
)

type fakeMaps []maps.LoadState

func (fakeMaps) Dir() string                    { return "/etc/postern/maps" }
func (m fakeMaps) LoadStates() []maps.LoadState { return m }

type fakeUsers struct {
	err error
	n   uint64
}

func (u fakeUsers) LoadError() (error, uint64) { return u.err, u.n }

func TestLoads(t *testing.T) {
	l := Loads{
		Maps:  fakeMaps{{File: "access", Failures: 2, Err: errors.New("line 3: bad")}, {File: "aliases", Failures: 1}},
		Users: fakeUsers{err: errors.New("permission denied"), n: 1},
	}
	m := l.Metrics()
	if len(m) != 3 || m[0].Name != "access" || !m[0].Failing || m[1].Failing || m[2].Name != "users" || !m[2].Failing {
		t.Errorf("metrics %+v", m)
	}
	p := l.Problems()
	if len(p) != 2 || !strings.HasPrefix(p[0], "map /etc/postern/maps/access not reloaded, previous version in force: line 3: bad (fix the file") ||
		!strings.HasPrefix(p[1], "users not reloaded") {
		t.Errorf("problems %q", p)
	}
	if got := (Loads{Users: fakeUsers{}}).Problems(); got != nil {
		t.Errorf("all loaded: %q", got)
	}
}

// downUsers are a users table not read past its stale period.
type downUsers struct{ fakeUsers }

func (downUsers) UnavailableText() string { return "users table t: connection refused" }

func TestLoadsUsersUnavailable(t *testing.T) {
	p := (Loads{Users: downUsers{fakeUsers{err: errors.New("connection refused"), n: 3}}}).Problems()
	if len(p) != 1 || !strings.Contains(p[0], "users unavailable: AUTH answers 454") || !strings.Contains(p[0], "users table t") {
		t.Errorf("problems %q", p)
	}
}
