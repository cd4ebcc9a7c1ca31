package spf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	pdns "postern/internal/dns"
	"postern/internal/dnstest"
	"postern/internal/testenv"
)

// suiteScenario is one YAML document of the OpenSPF test-suite schema
// (http://www.open-spf.org/Test_Suite/, "Schema").
type suiteScenario struct {
	Description string               `yaml:"description"`
	Comment     string               `yaml:"comment"`
	Tests       map[string]suiteTest `yaml:"tests"`
	ZoneData    map[string]yaml.Node `yaml:"zonedata"`
}

type suiteTest struct {
	Helo        string    `yaml:"helo"`
	Host        string    `yaml:"host"`
	MailFrom    string    `yaml:"mailfrom"`
	Result      yaml.Node `yaml:"result"`
	Explanation string    `yaml:"explanation"`
}

// deviations lists, per "file/scenario/test", the cases where postern's
// answer differs from the suite, with the reason. A listed case that
// starts to pass fails the test, so the list stays exact.
var deviations = map[string]string{
	// The library reads a/mx arguments with a regular expression that
	// stops at ":" and "/", so a domain-spec holding them is refused.
	"rfc7208-tests.yml/a-colon-domain":            libColon,
	"rfc7208-tests.yml/a-colon-domain-ip4mapped":  libColon,
	"rfc7208-tests.yml/mx-colon-domain":           libColon,
	"rfc7208-tests.yml/mx-colon-domain-ip4mapped": libColon,
	"rfc4408-tests.yml/a-colon-domain":            libColon,
	"rfc4408-tests.yml/a-colon-domain-ip4mapped":  libColon,
	"rfc4408-tests.yml/mx-colon-domain":           libColon,
	"rfc4408-tests.yml/mx-colon-domain-ip4mapped": libColon,
	// The expanded name holds spaces and "%", which Go's resolver will
	// not send as a query, so the a: mechanism cannot match.
	"rfc7208-tests.yml/macro-mania-in-domain": goNames,
	"rfc4408-tests.yml/macro-mania-in-domain": goNames,
	// The library expands %{p} in mechanisms to "unknown", as RFC 7208
	// 7.3 advises against the macro (it costs extra queries).
	"rfc7208-tests.yml/p-macro-multiple": pMacro,
	"rfc4408-tests.yml/p-macro-multiple": pMacro,
	// The suite wants the IPv6 nibbles of %{i} in upper case; postern
	// writes them in lower case as the example in RFC 7208 7.3 does.
	"rfc7208-tests.yml/v-macro-ip6": "RFC 7208 7.3 example uses lower-case nibbles",
	"rfc4408-tests.yml/v-macro-ip6": "RFC 7208 7.3 example uses lower-case nibbles",
	// pyspf's own "default=" modifier and "ambiguous" result are
	// extensions outside RFC 7208; postern ignores the unknown modifier.
	"test.yml/default-modifier":       "pyspf extension (default= modifier)",
	"test.yml/default-modifier-harsh": "pyspf extension (default= modifier, ambiguous result)",
	// The blitiri suite uses single-label names ("d01", "include:d11")
	// for brevity; RFC 7208 4.3 makes such a domain "none" and the
	// grammar (RFC 7208 12, domain-end) makes "include:d11" a syntax error.
	"blitirispf-tests.yml/resolution-with-10-lookups": singleLabel,
	"blitirispf-tests.yml/mx-resolution-10-terms":     singleLabel,
	"blitirispf-tests.yml/mx-resolution-11-terms":     singleLabel,
	"blitirispf-tests.yml/all-mx-not-found":           singleLabel,
	"blitirispf-tests.yml/include-not-found":          singleLabel,
	"blitirispf-tests.yml/one-mx-not-found":           singleLabel,
	"blitirispf-tests.yml/redirect-not-found":         singleLabel,
}

const (
	libColon    = "library refuses ':' in an a/mx domain-spec"
	goNames     = "Go resolver refuses names with spaces"
	pMacro      = "library expands %{p} to \"unknown\""
	singleLabel = "suite uses single-label domains, which RFC 7208 4.3 and 12 refuse"
)

// suiteOutcome counts one file's cases.
type suiteOutcome struct {
	cases, passed int
	deviated      []string
}

func TestRFC7208Suite(t *testing.T) {
	dir := testenv.SharedTestdata(t, "spf", "openspf")
	runSuiteFile(t, filepath.Join(dir, "rfc7208-tests.yml"))
}

func TestRFC4408Suite(t *testing.T) {
	dir := testenv.SharedTestdata(t, "spf", "openspf")
	runSuiteFile(t, filepath.Join(dir, "rfc4408-tests.yml"))
}

func TestPyspfSuite(t *testing.T) {
	dir := testenv.SharedTestdata(t, "spf", "pyspf")
	runSuiteFile(t, filepath.Join(dir, "test.yml"))
}

func TestBlitiriSuite(t *testing.T) {
	dir := testenv.SharedTestdata(t, "spf", "blitiri")
	runSuiteFile(t, filepath.Join(dir, "blitirispf-tests.yml"))
}

func runSuiteFile(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	var out suiteOutcome
	file := filepath.Base(path)
	srv := dnstest.Start(t, dnstest.Zone{})
	res := quickTimeout{pdns.New(pdns.Options{Servers: []string{srv.Addr}, Timeout: time.Second})}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for n := 1; ; n++ {
		var sc suiteScenario
		if err := dec.Decode(&sc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s document %d: %v", file, n, err)
		}
		zone, err := suiteZone(sc.ZoneData)
		if err != nil {
			t.Fatalf("%s %q: %v", file, sc.Description, err)
		}
		if err := srv.Set(zone); err != nil {
			t.Fatalf("%s %q: %v", file, sc.Description, err)
		}
		names := make([]string, 0, len(sc.Tests))
		for name := range sc.Tests {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			tc := sc.Tests[name]
			key := file + "/" + name
			out.cases++
			got, why := runSuiteCase(res, log, tc)
			reason, listed := deviations[key]
			switch {
			case why == "" && listed:
				t.Errorf("%s: passes now; remove it from the deviations (%s)", key, reason)
			case why == "":
				out.passed++
			case listed:
				out.deviated = append(out.deviated, key)
				t.Logf("%s: deviation (%s): %s", key, reason, why)
			default:
				t.Errorf("%s [%s]: %s (got %+v)", key, sc.Description, why, got)
			}
		}
	}
	t.Logf("%s: %d cases, %d as expected, %d listed deviations", file, out.cases, out.passed, len(out.deviated))
}

func runSuiteCase(res pdns.Resolver, log *slog.Logger, tc suiteTest) (Result, string) {
	ip, err := netip.ParseAddr(tc.Host)
	if err != nil {
		return Result{}, "bad host " + tc.Host
	}
	want := nodeStrings(&tc.Result)
	got := Check(context.Background(), res, log, ip, tc.Helo, tc.MailFrom)
	ok := false
	for _, w := range want {
		if strings.EqualFold(w, got.Result) {
			ok = true
		}
	}
	if !ok {
		return got, fmt.Sprintf("result %s, want %v (err: %v)", got.Result, want, got.Err)
	}
	// "DEFAULT" means the implementation's own explanation, which for
	// postern is no explanation text at all.
	if tc.Explanation != "" && got.Result == Fail {
		wantExp := tc.Explanation
		if wantExp == "DEFAULT" {
			wantExp = ""
		}
		if got.Explanation != wantExp {
			return got, fmt.Sprintf("explanation %q, want %q", got.Explanation, tc.Explanation)
		}
	}
	return got, ""
}

// quickTimeout bounds every query, so that the suite's TIMEOUT names cost
// a fraction of a second instead of the resolver's full retry schedule.
type quickTimeout struct{ pdns.Resolver }

const queryTimeout = time.Second

func (q quickTimeout) LookupTXT(ctx context.Context, name string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	return q.Resolver.LookupTXT(ctx, name)
}

func (q quickTimeout) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	return q.Resolver.LookupMX(ctx, name)
}

func (q quickTimeout) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	return q.Resolver.LookupIPAddr(ctx, host)
}

func (q quickTimeout) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	return q.Resolver.LookupAddr(ctx, addr)
}

// suiteZone turns the suite's zonedata into dnstest zone data. As the
// suite asks of its drivers, a name with type-SPF records and no TXT
// records serves them as TXT too (postern, per RFC 7208 3.1, only ever
// queries TXT). A TIMEOUT beside real records times out only the types
// the name has no records of.
func suiteZone(data map[string]yaml.Node) (dnstest.Zone, error) {
	z := dnstest.Zone{}
	for name, node := range data {
		if strings.ContainsAny(name, " \t") {
			// Go's resolver refuses such names before sending a query,
			// so they cannot be served (nor asked for).
			continue
		}
		hasTXT := false
		var spf []string
		timeout := false
		for _, item := range node.Content {
			switch item.Kind {
			case yaml.ScalarNode: // "- TIMEOUT"
				if strings.ToUpper(item.Value) != "TIMEOUT" {
					return nil, fmt.Errorf("%s: unknown record %q", name, item.Value)
				}
				timeout = true
				continue
			case yaml.MappingNode:
			default:
				return nil, fmt.Errorf("%s: unexpected record %v", name, item.Kind)
			}
			for i := 0; i+1 < len(item.Content); i += 2 {
				typ, val := strings.ToUpper(item.Content[i].Value), item.Content[i+1]
				switch typ {
				case "TIMEOUT":
					timeout = true
				case "SERVFAIL":
					z[name+" "+typ] = []string{""}
				case "MX":
					v := nodeStrings(val)
					if len(v) != 2 {
						return nil, fmt.Errorf("%s: bad MX %v", name, v)
					}
					z[name+" MX"] = append(z[name+" MX"], v[0]+" "+fqdn(v[1]))
				case "TXT", "SPF":
					// A list is one record of several strings, which DNS
					// clients join (RFC 7208 3.3).
					txt := strings.Join(nodeStrings(val), "")
					if typ == "TXT" && txt == "NONE" {
						// The suite's marker for "no TXT records here"
						// (and so no copy of the SPF ones).
						hasTXT = true
						continue
					}
					z[name+" "+typ] = append(z[name+" "+typ], txt)
					if typ == "TXT" {
						hasTXT = true
					} else {
						spf = append(spf, txt)
					}
				case "PTR", "CNAME":
					for _, v := range nodeStrings(val) {
						z[name+" "+typ] = append(z[name+" "+typ], fqdn(v))
					}
				case "A", "AAAA":
					z[name+" "+typ] = append(z[name+" "+typ], nodeStrings(val)...)
				default:
					return nil, fmt.Errorf("%s: unknown record type %s", name, typ)
				}
			}
		}
		if !hasTXT && len(spf) > 0 {
			z[name+" TXT"] = spf
		}
		if timeout {
			var types []string
			for _, typ := range []string{"A", "AAAA", "MX", "TXT", "SPF", "PTR", "CNAME"} {
				if _, ok := z[name+" "+typ]; !ok {
					types = append(types, typ)
				}
			}
			z[name+" TIMEOUT"] = types
		}
	}
	return z, nil
}

func fqdn(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// nodeStrings reads a scalar or a sequence of scalars.
func nodeStrings(n *yaml.Node) []string {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}
	case yaml.SequenceNode:
		var out []string
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
		return out
	}
	return nil
}
