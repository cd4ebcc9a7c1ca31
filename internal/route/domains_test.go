package route

import (
	"strings"
	"testing"

	"postern/internal/maps"
)

func TestMapDomains(t *testing.T) {
	l, err := maps.ParseLocalHostNames("local-host-names", strings.NewReader("example.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &maps.Maps{LocalHostNames: l}
	d := MapDomains{Maps: func() *maps.Maps { return m }, List: func(x *maps.Maps) *maps.DomainList { return x.LocalHostNames }}
	if rule, ok := d.Match("example.test"); !ok || !strings.Contains(rule, "local-host-names") {
		t.Errorf("listed: %q %v", rule, ok)
	}
	if _, ok := d.Match("other.example"); ok {
		t.Error("other domain matched")
	}
}
