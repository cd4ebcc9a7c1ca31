package test

import (
	"bufio"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"postern/internal/dnstest"
	"postern/internal/testenv"
	"postern/internal/testpeer"
)

// TestFleetBackupMX kills a domain's primary in the middle of a flow of
// mail and wants every message delivered once, through its backup MX.
// ns1 = node A (10.213.0.1), the primary of backup.test (a local domain,
// the Maildirs of ann and ben); ns2 = node B (10.213.0.2), its backup MX
// ([[backup_mx]] with verify = "maps": its virtusertable lists ann and
// ben; the MX records in its own DNS send the mail on to mx1, node A);
// ns3 = the sender, a Postfix with relayhost = [10.213.0.1]:25 and
// smtp_fallback_relay = [10.213.0.2]:25, Postfix's own way of using a
// backup when the first host does not answer, retrying every second or
// two. Both nodes start as root with user = "nobody".
//
// Postfix gets the first 20 messages (distinct Message-IDs) and A
// delivers them; then, while Postfix hands A the other 20, A is killed
// (SIGKILL) once it has accepted a few of them. What is left goes to B,
// which queues it, refuses an unknown recipient of backup.test and
// relaying elsewhere; A restarts on the same data_dir (its queue
// survives the kill), B hands it the queued mail, and every Message-ID
// is in A's Maildirs once, with both queues empty.
//
// One message may arrive twice: the one A had committed to its queue
// but not yet answered 250 for when it died. Postfix cannot know A has
// it, so it sends it again (through B), as RFC 1047 says any SMTP client
// must. A duplicate is tolerated for that message only: one Message-ID
// at most, whose copy straight from Postfix carries the queue id of the
// last message A's killed run logged as accepted, or of one it had
// committed but not yet logged (the kill fell between the commit and the
// log line), which the restarted run then delivered from its queue.
func TestFleetBackupMX(t *testing.T) {
	const total, first = 40, 20
	nss := testpeer.StartNetns(t, 3)
	sender := nss[2]
	a := startBackupMXNode(t, "A", nss[0], sender, testpeer.PosternConfig{
		Hostname: "mx1.backup.test", Local: []string{"backup.test"}, Postmaster: "postmaster@backup.test",
		Extra: "\n[queue]\nretry_initial = \"1s\"\nretry_max = \"2s\"\n",
	}, nil, "ann@backup.test", "ben@backup.test")
	maps := mapsDir(t, map[string]string{"virtusertable": "ann@backup.test ann@backup.test\nben@backup.test ben@backup.test\n"})
	b := startBackupMXNode(t, "B", nss[1], sender, testpeer.PosternConfig{
		Hostname: "mx2.backup.test", MapsDir: maps, Postmaster: "postmaster@example.test",
		Extra: "connection_idle = \"1s\"\n\n[queue]\nretry_initial = \"1s\"\nretry_max = \"2s\"\n\n" +
			"[[backup_mx]]\ndomain = \"backup.test\"\nverify = \"maps\"\n",
	}, dnstest.Zone{
		"backup.test. MX":      {"10 mx1.backup.test.", "20 mx2.backup.test."},
		"mx1.backup.test. A":   {nss[0].Addr},
		"mx2.backup.test. A":   {nss[1].Addr},
		"elsewhere.test. MX":   {"10 mx.elsewhere.test."},
		"mx.elsewhere.test. A": {sender.Addr},
	})
	pf := testpeer.StartPostfixIn(t, sender, map[string]string{
		"relayhost":              "[" + nss[0].Addr + "]:25",
		"smtp_fallback_relay":    "[" + nss[1].Addr + "]:25",
		"smtp_dns_support_level": "disabled",
		"smtpd_peername_lookup":  "no",
		"smtp_connect_timeout":   "5s",
	})
	id := func(i int) string { return fmt.Sprintf("<bmx-%02d@sender.example.test>", i) }
	rcpt := func(i int) string { return []string{"ann@backup.test", "ben@backup.test"}[i%2] }

	in := newPostfixInput(t, sender, pf)
	for i := 0; i < first; i++ {
		in.send(id(i), rcpt(i))
	}
	eventually(t, 30*time.Second, "the first messages in A's Maildirs", func() bool { return len(a.backupMail()) >= first })

	// The rest: A accepts three of them, one at a time; it is killed
	// right after Postfix has the fifth, which it is then handing on.
	accepted := func() int { return strings.Count(a.logs(), " accepted conn=") }
	for i := first; i < total; i++ {
		in.send(id(i), rcpt(i))
		switch {
		case i < first+3:
			eventually(t, 20*time.Second, "A accepted "+id(i), func() bool { return accepted() > i })
		case i == first+4:
			a.kill()
		}
	}
	in.close()
	t.Logf("A accepted %d messages before it was killed", accepted())
	// Postfix has handed everything on (to B, A being down); B queues it.
	eventually(t, 40*time.Second, "Postfix sent every message", func() bool { return strings.Count(pf.Log(), "status=sent") >= total })
	if log := pf.Log(); !strings.Contains(log, "relay="+nss[1].Addr) || strings.Contains(log, "status=bounced") {
		t.Fatalf("Postfix did not fall back to B, or bounced:\n%s", log)
	}
	if out, err := b.postern("", "queue", "list"); err != nil || !strings.Contains(out, "@backup.test") {
		t.Errorf("B's queue while A is down: %v\n%s", err, out)
	}
	b.rcptAnswers(t, map[string]int{"ann@backup.test": 250, "nobody@backup.test": 550, "x@elsewhere.test": 550})

	a.runs = append(a.runs, a.ns.StartPostern(t, "postern serve (node A, again)", binary, a.cfgPath, a.MTA))
	eventually(t, 40*time.Second, "every message in A's Maildirs", func() bool { return len(a.backupMail()) >= total })
	time.Sleep(3 * time.Second) // for any copy more
	a.checkOnce(t, total, id)
	for _, n := range []*fleetNode{a, b} {
		if out, err := n.postern("", "queue", "list"); err != nil || !strings.Contains(out, "queue is empty") {
			t.Errorf("node %s's queue at the end: %v\n%s", n.name, err, out)
		}
	}
}

// startBackupMXNode starts a node of TestFleetBackupMX in ns from pc
// (data_dir, user, listeners and DNS filled in) with users (password
// "pw") and a DNS server of its own in ns serving zone.
func startBackupMXNode(t *testing.T, name string, ns, from *testpeer.Netns, pc testpeer.PosternConfig, zone dnstest.Zone, users ...string) *fleetNode {
	t.Helper()
	dir := testenv.OpenTempDir(t)
	s := &server{t: t, dir: dir, cfgPath: filepath.Join(dir, "postern.toml"), MTA: ns.Addr + ":25"}
	var dns *dnstest.Server
	if err := ns.Do(func() (err error) { dns, err = dnstest.Listen(zone); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dns.Close)
	pc.DataDir, pc.User, pc.MTA, pc.DNS, pc.Relay = filepath.Join(dir, "data"), testenv.ServiceUser(), s.MTA, dns.Addr, []string{}
	pc.Write(t, s.cfgPath)
	for _, u := range users {
		s.addUser(u, "pw")
	}
	s.runs = append(s.runs, ns.StartPostern(t, "postern serve (node "+name+")", binary, s.cfgPath, s.MTA))
	return &fleetNode{server: s, name: name, ns: ns, from: from, dns: dns}
}

// backupMail is every message in the Maildirs of ann and ben.
func (n *fleetNode) backupMail() []string {
	return append(n.maildir("ann@backup.test"), n.maildir("ben@backup.test")...)
}

var (
	messageID  = regexp.MustCompile(`(?mi)^Message-ID: *(<[^>]*>)`)
	receivedID = regexp.MustCompile(`by mx1\.backup\.test with E?SMTP id (\S+)`)
	acceptedID = regexp.MustCompile(` accepted conn=\S+ msg=(\S+)`)
)

// checkOnce wants each of the total Message-IDs once in the node's
// Maildirs, but for the one duplicate TestFleetBackupMX explains.
func (n *fleetNode) checkOnce(t *testing.T, total int, id func(int) string) {
	t.Helper()
	copies := map[string][]string{}
	for _, m := range n.backupMail() {
		mid := messageID.FindStringSubmatch(m)
		if mid == nil {
			t.Fatalf("a message without a Message-ID:\n%s", m)
		}
		copies[mid[1]] = append(copies[mid[1]], m)
	}
	lastAccepted, logged := "", map[string]bool{}
	for _, l := range strings.Split(n.runs[0].Output(), "\n") {
		if f := acceptedID.FindStringSubmatch(l); f != nil {
			lastAccepted, logged[f[1]] = f[1], true
		}
	}
	// A message committed in the instant between the commit and its log
	// line has no "accepted" line in the killed run; it came out of the
	// queue that survived, so the restarted run names it (as msg= when
	// it logs the message, as id= when it delivers it).
	unlogged := func(q string) bool {
		out := n.runs[len(n.runs)-1].Output()
		return !logged[q] && (strings.Contains(out, "msg="+q) || strings.Contains(out, "id="+q+" "))
	}
	dups := 0
	for i := 0; i < total; i++ {
		got := copies[id(i)]
		switch {
		case len(got) == 1:
		case len(got) == 2 && dups == 0 && inFlightAtKill(got, lastAccepted, unlogged):
			dups++
			t.Logf("%s arrived twice: A had committed it (%s) when it was killed", id(i), lastAccepted)
		default:
			t.Errorf("%s is in A's Maildirs %d times (last accepted %s):\n%s", id(i), len(got), lastAccepted, strings.Join(got, "\n----\n"))
		}
	}
	if len(copies) != total {
		t.Errorf("A's Maildirs hold %d distinct messages, want %d", len(copies), total)
	}
}

// inFlightAtKill reports whether one of the two copies came straight
// from Postfix (its first Received field is A's) as the message A
// accepted last before it was killed, or as one it had committed but not
// yet logged (unlogged).
func inFlightAtKill(copies []string, lastAccepted string, unlogged func(string) bool) bool {
	for _, m := range copies {
		if r := receivedID.FindStringSubmatch(m); r != nil && (r[1] == lastAccepted || unlogged(r[1])) && !strings.Contains(m, "by mx2.backup.test") {
			return true
		}
	}
	return false
}

// postfixInput is one SMTP session with the sender's Postfix, in which
// the test hands it messages one after the other.
type postfixInput struct {
	c *smtpConn
}

func newPostfixInput(t *testing.T, ns *testpeer.Netns, pf *testpeer.Postfix) *postfixInput {
	t.Helper()
	nc, err := ns.Dial("tcp", pf.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	in := &postfixInput{c: &smtpConn{t: t, nc: nc, r: bufio.NewReader(nc)}}
	in.c.reply()
	in.c.must("EHLO client.sender.example.test", 250)
	return in
}

// send hands Postfix one message to rcpt with the Message-ID id.
func (in *postfixInput) send(id, rcpt string) {
	in.c.t.Helper()
	in.c.must("MAIL FROM:<news@sender.example.test>", 250)
	in.c.must("RCPT TO:<"+rcpt+">", 250)
	in.c.must("DATA", 354)
	in.c.must("From: news@sender.example.test\r\nTo: "+rcpt+"\r\nMessage-ID: "+id+"\r\nSubject: flow\r\n\r\nhello\r\n.", 250)
}

func (in *postfixInput) close() { in.c.cmd("QUIT") }
