package test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/ratelimit/redistest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// TestFleet runs two gateways the way a site runs them behind its MX
// records, each in a network namespace of its own, with the shared
// services (Debian's slapd with sendmail's schema, redis-server,
// PostgreSQL) and the senders (a Postfix relaying through the nodes,
// swaks for logged-in users and for another domain's server) in a
// third: ns1 = node A (10.213.0.1), ns2 = node B (10.213.0.2), ns3 = the
// services and the senders (10.213.0.3). Nothing listens on, or talks
// to, an address outside those namespaces. Both nodes start as root with
// user = "nobody", read their maps from the directory ([ldap_maps]),
// their users and relay-domains from the database ([postgres_users],
// [postgres_maps], over TLS), and count rate limits and keep DMARC
// evaluations and the record of reports sent in the one Redis.
//
// Each part of the proof is a subtest, in order (docs/fleet.md lists
// them); the DMARC mail goes first and its one report for the fleet is
// checked last, so that the one-minute period ends while the others run.
// The backup MX is TestFleetBackupMX.
func TestFleet(t *testing.T) {
	nss := testpeer.StartNetns(t, 3)
	services := nss[2]
	ldif, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "internal", "ldapmaps", "testdata", "directory.ldif"))
	if err != nil {
		t.Fatal(err)
	}
	d := testpeer.StartSlapdIn(t, string(ldif), services)
	rds := redistest.StartWith(t, services.Addr, "6379", services.Command)
	db := startFleetDB(t, services)
	const perUser = 3
	var nodes []*fleetNode
	for i, name := range []string{"A", "B"} {
		// Node A's `postern user add` fills the table node B reads too.
		users := []string{"alice@example.test", "bob@example.test", dmarcReader, dmarcMailbox}
		if i > 0 {
			users = nil
		}
		n := startFleetNodeUsers(t, name, nss[i], services, fmt.Sprintf(`
[ldap_maps]
url = %q
start_tls = true
ca_file = "%%[1]s/ldap-ca.pem"
base = "ou=mail,%s"
bind_dn = %q
password_file = "%%[1]s/ldap.secret"
cluster = "gateways"
maps = ["access", "virtusertable", "aliases", "local-host-names"]
refresh = "1s"
stale = "2s"
timeout = "2s"

[ratelimit]
backend = "redis"
redis_url = "redis://%s/0"
on_backend_error = "fail_closed"
messages_per_user_per_hour = %d

[dmarc]
report_interval = "1m"

[queue]
retry_initial = "1s"
retry_max = "2s"
`, d.URL, d.Suffix, d.BindDN, rds.Addr, perUser)+db.toml(), d, users...)
		if err := n.dns.Set(fleetDMARCZone()); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	// The sender: a Postfix that relays mail from a@ through node A and
	// from b@ through node B.
	pf := testpeer.StartPostfixIn(t, services, map[string]string{
		"relayhost":                       "[" + nss[0].Addr + "]:25",
		"sender_dependent_relayhost_maps": fmt.Sprintf("inline:{a@sender.example.test=[%s]:25, b@sender.example.test=[%s]:25}", nss[0].Addr, nss[1].Addr),
		"smtp_dns_support_level":          "disabled",
		"smtpd_peername_lookup":           "no",
	})
	up := map[string]int{"info@virtual.example": 250, "nobody@virtual.example": 550, "x@elsewhere.test": 550, "alice@example.test": 250}

	top := t
	// DMARC first: its period ends while the other parts run.
	var dm *fleetDMARC
	t.Run("mail of one domain on both nodes in one DMARC period", func(t *testing.T) {
		for _, n := range nodes {
			if !strings.Contains(n.logs(), "report_interval 1m0s is below one hour") {
				t.Errorf("node %s did not warn of the one-minute report period at start", n.name)
			}
		}
		dm = sendDMARCMail(t, nodes, 2)
	})

	t.Run("same answers from LDAP", func(t *testing.T) {
		for _, n := range nodes {
			n.rcptAnswers(t, up)
			c := n.dial(t, n.MTA)
			c.must("EHLO client.test", 250)
			if code, text := c.cmd("MAIL FROM:<spammer@bad.example>"); code != 550 {
				t.Errorf("node %s: MAIL FROM a sender the directory's access map rejects: %d %s", n.name, code, text)
			}
			c.must("MAIL FROM:<other@bad.example>", 250) // another cluster's entry
			c.cmd("QUIT")
		}
		// virtusertable info -> staff, the alias staff -> alice, bob: on
		// each node, for the message Postfix relayed through it.
		fleetSend(t, services, pf, "a@sender.example.test", "info@virtual.example")
		fleetSend(t, services, pf, "b@sender.example.test", "info@virtual.example")
		for _, n := range nodes {
			waitFor(t, func() bool { return n.delivered("alice") == 1 && n.delivered("bob") == 1 })
		}
	})

	t.Run("a limit per user holds across both nodes", func(t *testing.T) {
		before := nodes[0].delivered("bob") + nodes[1].delivered("bob")
		for i := 0; i < perUser; i++ {
			n := nodes[i%2]
			n.submit(t, 0, "alice@example.test", "bob@example.test")
		}
		for _, n := range nodes {
			out := n.submit(t, 23, "alice@example.test", "bob@example.test")
			if !strings.Contains(out, "451 4.7.1") || !strings.Contains(out, "too many messages") {
				t.Errorf("node %s: message %d of alice was not refused with 451 4.7.1 too many messages:\n%s", n.name, perUser+1, out)
			}
		}
		// Another user is not held by alice's limit.
		nodes[1].submit(t, 0, "bob@example.test", "alice@example.test")
		waitFor(t, func() bool { return nodes[0].delivered("bob")+nodes[1].delivered("bob")-before == perUser })
		time.Sleep(time.Second)
		if got := nodes[0].delivered("bob") + nodes[1].delivered("bob") - before; got != perUser {
			t.Errorf("bob got %d messages from alice on the two nodes, want %d", got, perUser)
		}
	})

	t.Run("users and relay-domains from PostgreSQL on both nodes", func(t *testing.T) {
		for _, n := range nodes {
			n.rcptAnswers(t, map[string]int{"x@partner.example": 250, "x@elsewhere.test": 550})
		}
		// A user added as root on node A logs in on node B.
		nodes[0].admin(t, "pw\n", "user", "add", "--password-stdin", "carol@example.test")
		waitFor(t, func() bool { return nodes[1].probe(t, "carol@example.test") == 250 })
		nodes[1].submit(t, 0, "carol@example.test", "carol@example.test")
		waitFor(t, func() bool { return nodes[1].delivered("carol") == 1 })
	})

	t.Run("directory stopped: 4xx on both, no relay", func(t *testing.T) {
		d.Stop()
		down := map[string]int{"info@virtual.example": 451, "nobody@virtual.example": 451, "x@elsewhere.test": 451, "alice@example.test": 451}
		for _, n := range nodes {
			waitFor(t, func() bool { return strings.Contains(n.logs(), "map unavailable") })
			// The maps go one by one: the answers change with the last.
			waitFor(t, func() bool { return n.probe(t, "info@virtual.example") == 451 })
			n.rcptAnswers(t, down)
			out := n.swaks(t, 24, "--server", n.MTA, "--from", "someone@else.test", "--to", "x@elsewhere.test")
			if !strings.Contains(out, "<** 451") {
				t.Errorf("node %s: relay attempt with the directory down:\n%s", n.name, out)
			}
		}
		// Postfix's mail waits in its queue: deferred, never bounced.
		fleetSend(t, services, pf, "a@sender.example.test", "info@virtual.example")
		fleetSend(t, services, pf, "b@sender.example.test", "info@virtual.example")
		waitFor(t, func() bool { return strings.Count(pf.Log(), "status=deferred") >= 2 })
		if log := pf.Log(); strings.Contains(log, "status=bounced") || strings.Count(log, "status=sent") != 2 {
			t.Errorf("Postfix's mail while the directory is down was not only deferred:\n%s", log)
		}
	})

	t.Run("directory back: the same answers", func(t *testing.T) {
		// What Postfix kept arrives when it retries, once on each node
		// (counted from before the directory is back, since Postfix may
		// retry as soon as it is).
		var before []int
		for _, n := range nodes {
			before = append(before, n.delivered("alice"), n.delivered("bob"))
		}
		// Started for the whole test, not this part: the DMARC report
		// after it is delivered with the directory's maps.
		d.Start(top)
		for _, n := range nodes {
			waitFor(t, func() bool { return n.probe(t, "info@virtual.example") == 250 })
			n.rcptAnswers(t, up)
		}
		for i, n := range nodes {
			waitFor(t, func() bool { return n.delivered("alice") == before[2*i]+1 && n.delivered("bob") == before[2*i+1]+1 })
		}
		time.Sleep(time.Second)
		if log := pf.Log(); strings.Contains(log, "status=bounced") || strings.Count(log, "status=sent") != 4 {
			t.Errorf("Postfix's log after the directory came back:\n%s", log)
		}
		for i, n := range nodes {
			if a, b := n.delivered("alice"), n.delivered("bob"); a != before[2*i]+1 || b != before[2*i+1]+1 {
				t.Errorf("node %s: alice and bob have %d and %d messages, want %d and %d", n.name, a, b, before[2*i]+1, before[2*i+1]+1)
			}
		}
	})

	t.Run("one DMARC report for the domain and period from the fleet", func(t *testing.T) {
		if dm == nil {
			t.Skip("no DMARC mail was sent")
		}
		dm.check(t, nodes)
	})
}

// fleetSend hands Postfix (in ns) a message from one address to another
// over SMTP, as a client on its network does.
func fleetSend(t *testing.T, ns *testpeer.Netns, pf *testpeer.Postfix, from, to string) {
	t.Helper()
	nc, err := ns.Dial("tcp", pf.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	c := &smtpConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	defer nc.Close()
	c.reply()
	c.must("EHLO client.sender.example.test", 250)
	c.must("MAIL FROM:<"+from+">", 250)
	c.must("RCPT TO:<"+to+">", 250)
	c.must("DATA", 354)
	c.must("From: "+from+"\r\nTo: "+to+"\r\nSubject: through the fleet\r\n\r\nhello\r\n.", 250)
	c.cmd("QUIT")
}

// fleetNode is one gateway of TestFleet, in its own namespace; clients
// reach it from the services' namespace.
type fleetNode struct {
	*server
	name     string
	ns, from *testpeer.Netns
	dns      *dnstest.Server // the node's own, on its namespace's loopback
}

// startFleetNode writes the node's config (extra is more TOML, in which
// %[1]s is the node's directory, where the directory's bind password is
// ldap.secret and its CA ldap-ca.pem), adds the users alice and bob
// and starts it in ns as root, to drop to the service user. Its DNS
// server is on the namespace's own loopback.
func startFleetNode(t *testing.T, name string, ns, from *testpeer.Netns, extra string, d *testpeer.Slapd) *fleetNode {
	t.Helper()
	return startFleetNodeUsers(t, name, ns, from, extra, d, "alice@example.test", "bob@example.test")
}

// startFleetNodeUsers is startFleetNode adding the users given
// (password "pw") instead of alice and bob: none for a node whose users
// come from the table another node's `postern user add` filled.
func startFleetNodeUsers(t *testing.T, name string, ns, from *testpeer.Netns, extra string, d *testpeer.Slapd, users ...string) *fleetNode {
	t.Helper()
	n := newFleetNode(t, name, ns, from, extra, d)
	for _, u := range users {
		n.admin(t, "pw\n", "user", "add", "--password-stdin", u)
	}
	n.runs = append(n.runs, ns.StartPostern(t, "postern serve (node "+name+")", binary, n.cfgPath, n.MTA, n.Sub, n.SMTPS))
	return n
}

// newFleetNode writes the node's directory and config and starts its
// DNS server, as startFleetNode says; it does not start the node.
func newFleetNode(t *testing.T, name string, ns, from *testpeer.Netns, extra string, d *testpeer.Slapd) *fleetNode {
	t.Helper()
	dir := testenv.OpenTempDir(t)
	testenv.WriteFile(t, filepath.Join(dir, "ldap.secret"), d.Password+"\n", 0o600)
	testenv.WriteFile(t, filepath.Join(dir, "ldap-ca.pem"), d.CA, 0o644)
	s := &server{t: t, dir: dir, cfgPath: filepath.Join(dir, "postern.toml"),
		MTA: ns.Addr + ":25", Sub: ns.Addr + ":587", SMTPS: ns.Addr + ":465"}
	var dns *dnstest.Server
	if err := ns.Do(func() (err error) { dns, err = dnstest.Listen(nil); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dns.Close)
	pc := testpeer.PosternConfig{
		Hostname: strings.ToLower(name) + ".mx.example.test", DataDir: filepath.Join(dir, "data"),
		Relay: []string{}, Postmaster: "postmaster@example.test", User: testenv.ServiceUser(),
		MTA: s.MTA, Submission: s.Sub, SMTPS: s.SMTPS, Extra: fmt.Sprintf(extra, dir), DNS: dns.Addr,
		LocalSocket: filepath.Join(dir, "run", "submit.sock"),
	}
	pc.Write(t, s.cfgPath)
	return &fleetNode{server: s, name: name, ns: ns, from: from, dns: dns}
}

// dial connects to addr from the services' namespace, as a client on
// the fleet's network, and reads the greeting.
func (n *fleetNode) dial(t *testing.T, addr string) *smtpConn {
	t.Helper()
	nc, err := n.from.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if strings.HasSuffix(addr, ":465") {
		nc = tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
	}
	c := &smtpConn{t: t, nc: nc, r: bufio.NewReader(nc)}
	if code, text := c.reply(); code != 220 {
		t.Fatalf("node %s: greeting %d %s", n.name, code, text)
	}
	return c
}

// rcptAnswers checks what each RCPT TO gets on the node, in one
// transaction.
func (n *fleetNode) rcptAnswers(t *testing.T, want map[string]int) {
	t.Helper()
	c := n.dial(t, n.MTA)
	defer c.nc.Close()
	c.must("EHLO client.test", 250)
	c.must("MAIL FROM:<someone@else.test>", 250)
	for rcpt, code := range want {
		if got, text := c.cmd("RCPT TO:<" + rcpt + ">"); got != code {
			t.Errorf("node %s: RCPT TO:<%s> = %d %s, want %d", n.name, rcpt, got, text, code)
		}
	}
	c.cmd("QUIT")
}

// probe is the reply code to RCPT TO:<rcpt> on the node.
func (n *fleetNode) probe(t *testing.T, rcpt string) int {
	t.Helper()
	c := n.dial(t, n.MTA)
	defer c.nc.Close()
	c.must("EHLO probe.test", 250)
	c.must("MAIL FROM:<someone@else.test>", 250)
	code, _ := c.cmd("RCPT TO:<" + rcpt + ">")
	return code
}

// swaks sends one message with swaks, run in the services' namespace,
// and returns its output; the test fails unless swaks exits with want
// (0: sent; 23: refused at MAIL FROM; 24: at RCPT TO).
func (n *fleetNode) swaks(t *testing.T, want int, args ...string) string {
	t.Helper()
	cmd := n.from.Command(testenv.LookPath(t, "swaks"), append([]string{"--timeout", "20",
		"--helo", "sender.example.test", "--header", "Subject: fleet test"}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	if code != want {
		t.Fatalf("node %s: swaks %v exited %d, want %d:\n%s", n.name, args, code, want, out)
	}
	return string(out)
}

// submit sends a message from user (password "pw") to rcpt over the
// node's smtps listener with a login, as a mail client does.
func (n *fleetNode) submit(t *testing.T, want int, user, rcpt string) string {
	t.Helper()
	return n.swaks(t, want, "--server", n.SMTPS, "--tls-on-connect", "--auth", "PLAIN",
		"--auth-user", user, "--auth-password", "pw", "--from", user, "--to", rcpt)
}

// delivered is how many messages the local user (of example.test) has in
// the node's Maildir.
func (n *fleetNode) delivered(user string) int {
	box := filepath.Join(n.dir, "data", "mail", "example.test", user)
	a, _ := filepath.Glob(filepath.Join(box, "new", "*"))
	b, _ := filepath.Glob(filepath.Join(box, "cur", "*"))
	return len(a) + len(b)
}
