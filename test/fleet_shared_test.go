package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dmarcreport"
	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// fleetDB is TestFleet's PostgreSQL, in the services' namespace: the
// users of both nodes ([postgres_users]) and their relay-domains
// ([postgres_maps]) come from its tables.
type fleetDB struct {
	*testpeer.Postgres
	url, pwFile string // as a node's config names them
}

// startFleetDB starts the database in ns with docs/maps.md's tables;
// relay-domains holds partner.example.
func startFleetDB(t *testing.T, ns *testpeer.Netns) *fleetDB {
	t.Helper()
	pg := testpeer.StartPostgresIn(t, ns)
	pg.Exec(t, `CREATE TABLE postern_users (
		address text PRIMARY KEY, hash text NOT NULL,
		suspended boolean NOT NULL DEFAULT false, revoked boolean NOT NULL DEFAULT false, admin boolean NOT NULL DEFAULT false);
		ALTER TABLE postern_users OWNER TO postern;
		CREATE TABLE postern_maps (map text NOT NULL, key text NOT NULL, value text NOT NULL DEFAULT '', PRIMARY KEY (map, key));
		ALTER TABLE postern_maps OWNER TO postern;
		INSERT INTO postern_maps VALUES ('relay-domains', 'partner.example', '')`)
	dir := testenv.OpenTempDir(t)
	ca := filepath.Join(dir, "pg-ca.pem")
	testenv.WriteFile(t, ca, pg.CA, 0o644) // read by the nodes' service user at each connection
	db := &fleetDB{Postgres: pg, pwFile: filepath.Join(dir, "pg.secret")}
	testenv.WriteFile(t, db.pwFile, pg.Password+"\n", 0o600)
	db.url = fmt.Sprintf("postgres://%s@%s/postern?sslmode=verify-full&sslrootcert=%s", pg.User, pg.Addr, ca)
	return db
}

// toml is the nodes' [postgres_users] and [postgres_maps].
func (db *fleetDB) toml() string {
	return fmt.Sprintf(`
[postgres_users]
url = %[1]q
password_file = %[2]q
refresh = "1s"
stale = "10s"
timeout = "2s"

[postgres_maps]
url = %[1]q
password_file = %[2]q
maps = ["relay-domains"]
refresh = "1s"
stale = "10s"
timeout = "2s"
`, db.url, db.pwFile)
}

// admin runs `postern ARGS -config CONFIG` as root inside the node's
// namespace, where its database can be reached, as an admin on the node
// does; the test fails unless it succeeds.
func (n *fleetNode) admin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := n.ns.Command(binary, append(args, "-config", n.cfgPath)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: postern %v: %v\n%s", n.name, args, err, out)
	}
	return string(out)
}

// The DMARC part of TestFleet: news.example.net publishes an SPF record
// that allows the senders' address and a DMARC record asking for
// aggregate reports at dmarc@example.test, which agrees to receive them
// (RFC 7489 7.1).
const (
	dmarcDomain  = "news.example.net"
	dmarcReader  = "reader@example.test" // where its mail goes
	dmarcMailbox = "dmarc@example.test"  // its rua mailbox
)

func fleetDMARCZone() dnstest.Zone {
	return dnstest.Zone{
		dmarcDomain + ". TXT":                             {"v=spf1 ip4:10.213.0.3 -all"},
		"_dmarc." + dmarcDomain + ". TXT":                 {"v=DMARC1; p=none; rua=mailto:" + dmarcMailbox},
		dmarcDomain + "._report._dmarc.example.test. TXT": {"v=DMARC1"},
	}
}

// fleetDMARC is what was sent for the fleet-wide report: perNode
// messages to each node, all within the period that begins at begin.
type fleetDMARC struct {
	begin   time.Time
	perNode int
}

// sendDMARCMail sends perNode messages from news.example.net to each
// node in turn, from the senders' namespace (an untrusted client), all
// within one report period (one minute): with less than 10 seconds of
// the minute left it starts at the next one.
func sendDMARCMail(t *testing.T, nodes []*fleetNode, perNode int) *fleetDMARC {
	t.Helper()
	now := time.Now()
	if left := now.Truncate(time.Minute).Add(time.Minute).Sub(now); left < 10*time.Second {
		time.Sleep(left + 100*time.Millisecond)
	}
	first := time.Now()
	for i := 0; i < perNode*len(nodes); i++ {
		n := nodes[i%len(nodes)]
		n.swaks(t, 0, "--server", n.MTA, "--from", "editor@"+dmarcDomain, "--to", dmarcReader)
	}
	if last := time.Now(); last.Truncate(time.Minute) != first.Truncate(time.Minute) {
		t.Fatalf("sending took from %s to %s, across the end of a period", first.Format(time.TimeOnly), last.Format(time.TimeOnly))
	}
	for _, n := range nodes {
		waitFor(t, func() bool { return len(n.maildir(dmarcReader)) == perNode })
	}
	return &fleetDMARC{begin: first.Truncate(time.Minute), perNode: perNode}
}

// reports returns the aggregate reports about news.example.net in the
// rua mailboxes of both nodes, and how many the nodes' logs say they
// queued.
func (f *fleetDMARC) reports(t *testing.T, nodes []*fleetNode) (msgs []string, queued int) {
	t.Helper()
	for _, n := range nodes {
		for _, m := range n.maildir(dmarcMailbox) {
			if strings.Contains(m, "Report Domain: "+dmarcDomain) {
				msgs = append(msgs, m)
			}
		}
		for _, l := range strings.Split(n.logs(), "\n") {
			if strings.Contains(l, "dmarc report queued") && strings.Contains(l, "domain="+dmarcDomain) {
				queued++
			}
		}
	}
	return msgs, queued
}

// check waits for the period to end and its report to arrive, then
// for every node to have looked again (a tick is 5 seconds with
// one-minute periods), and wants one report for the fleet that counts
// every node's messages.
func (f *fleetDMARC) check(t *testing.T, nodes []*fleetNode) {
	t.Helper()
	deadline := f.begin.Add(time.Minute + 30*time.Second)
	for {
		if msgs, _ := f.reports(t, nodes); len(msgs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no DMARC report for %s 30s after the period ended", dmarcDomain)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(6 * time.Second)
	msgs, queued := f.reports(t, nodes)
	if len(msgs) != 1 || queued != 1 {
		t.Fatalf("the fleet sent %d reports (%d queued) for %s and one period, want 1", len(msgs), queued, dmarcDomain)
	}
	fs, err := dmarcreport.ExtractReports([]byte(msgs[0]))
	if err != nil || len(fs) != 1 {
		t.Fatalf("reading the report back: %d reports, %v", len(fs), err)
	}
	fb := fs[0]
	if fb.Policy.Domain != dmarcDomain || int64(fb.Metadata.DateRange.Begin) != f.begin.Unix() {
		t.Errorf("the report is about %s from %d, want %s from %d", fb.Policy.Domain, fb.Metadata.DateRange.Begin, dmarcDomain, f.begin.Unix())
	}
	total := 0
	for _, r := range fb.Records {
		total += int(r.Row.Count)
	}
	if want := f.perNode * len(nodes); total != want {
		t.Errorf("the report counts %d messages, want %d (%d on each node)", total, want, f.perNode)
	}
}
