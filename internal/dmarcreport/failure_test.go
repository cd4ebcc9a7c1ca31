package dmarcreport

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/netip"
	"net/textproto"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"postern/internal/dmarc"
	"postern/internal/dnstest"
)

const failureHeader = "Return-Path: <bounce@spoof.test>\r\n" +
	"From: \"Bank\" <service@example.com>\r\n" +
	"To: victim@receiver.test\r\n" +
	"Subject: Please confirm\r\n" +
	"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1; i=@example.com;\r\n\tb=abc\r\n" +
	"Message-ID: <1@spoof.test>\r\n"

// failureFixture evaluates a message against DMARC records on loopback
// DNS, as the inbound path does, and returns what it hands the reporter.
func failureFixture(t *testing.T, zone dnstest.Zone, in dmarc.Input) (Failure, *dnstest.Server) {
	t.Helper()
	srv := dnstest.Start(t, zone)
	res := dmarc.Evaluate(context.Background(), srv.Resolver(), testLog(), in)
	kind, _ := res.FailureReportDue(in)
	return Failure{Result: res, Input: in, Kind: kind, MailFrom: "bounce@spoof.test", EnvelopeID: "QQ314159",
		Arrival:     time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		AuthResults: "mx.receiver.test;\r\n\tspf=fail smtp.mailfrom=spoof.test;\r\n\tdkim=fail header.d=example.com;\r\n\tdmarc=fail header.from=example.com",
		Delivery:    "reject", Signatures: []Signature{{Domain: "example.com", Selector: "s1", Identity: "@example.com", Result: "fail"}},
		Header: []byte(failureHeader + "\r\n")}, srv
}

func spoofInput() dmarc.Input {
	return dmarc.Input{FromDomain: "example.com", SPFResult: "fail", SPFDomain: "spoof.test", EnvelopeFrom: "spoof.test",
		SourceIP: netip.MustParseAddr("192.0.2.66"), DKIM: []dmarc.DKIMResult{{Domain: "example.com", Selector: "s1", Result: "fail"}}}
}

func newFailureReporter(t *testing.T, srv *dnstest.Server, now *time.Time) *FailureReporter {
	t.Helper()
	r, err := NewFailureReporter(srv.Resolver(), testLog(), FailureOptions{ReceiverDomain: "mx.receiver.test",
		From: "dmarc-reports@mx.receiver.test", UserAgent: "postern/test", Queue: 4,
		Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestComposeFailureReport parses a report back and checks each part
// and every field RFC 5965, RFC 6591 and RFC 7489 7.3 ask for.
func TestComposeFailureReport(t *testing.T) {
	f, srv := failureFixture(t, dnstest.Zone{"_dmarc.example.com TXT": {"v=DMARC1; p=reject; ruf=mailto:ruf@example.com"}}, spoofInput())
	if f.Kind != dmarc.FailureDMARC {
		t.Fatalf("kind %q", f.Kind)
	}
	now := time.Date(2026, 3, 1, 10, 0, 5, 0, time.UTC)
	msgs := newFailureReporter(t, srv, &now).Build(context.Background(), f)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	o := msgs[0]
	if o.From != "dmarc-reports@mx.receiver.test" || !reflect.DeepEqual(o.To, []string{"ruf@example.com"}) || o.PolicyDomain != "example.com" {
		t.Errorf("envelope: %+v", o)
	}
	ent, err := message.Read(bytes.NewReader(o.Data))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"Subject": "DMARC failure report for example.com", "To": "<ruf@example.com>",
		"From": "<dmarc-reports@mx.receiver.test>", "Auto-Submitted": "auto-generated"} {
		if got := ent.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	mt, params, _ := ent.Header.ContentType()
	if mt != "multipart/report" || params["report-type"] != "feedback-report" {
		t.Fatalf("content type %s %v", mt, params)
	}
	mr := ent.MultipartReader()
	var parts []*message.Entity
	var bodies [][]byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p.Body)
		parts, bodies = append(parts, p), append(bodies, b)
	}
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	for i, want := range []string{"text/plain", "message/feedback-report", "text/rfc822-headers"} {
		if mt, _, _ := parts[i].Header.ContentType(); mt != want {
			t.Errorf("part %d is %s, want %s", i+1, mt, want)
		}
	}
	if !strings.Contains(string(bodies[0]), "192.0.2.66") || !strings.Contains(string(bodies[0]), "example.com") {
		t.Errorf("human-readable part: %s", bodies[0])
	}
	fields, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(bodies[1], "\r\n"...)))).ReadMIMEHeader()
	if err != nil {
		t.Fatalf("feedback-report part: %v\n%s", err, bodies[1])
	}
	want := map[string]string{
		"Feedback-Type":        "auth-failure",
		"User-Agent":           "postern/test",
		"Version":              "1",
		"Original-Envelope-Id": "QQ314159",
		"Original-Mail-From":   "<bounce@spoof.test>",
		"Arrival-Date":         "Sun, 01 Mar 2026 10:00:00 +0000",
		"Reporting-Mta":        "dns; mx.receiver.test",
		"Source-Ip":            "192.0.2.66",
		"Reported-Domain":      "example.com",
		"Auth-Failure":         "dmarc",
		"Delivery-Result":      "reject",
		"Dkim-Domain":          "example.com",
		"Dkim-Identity":        "@example.com",
		"Dkim-Selector":        "s1",
		"Identity-Alignment":   "none",
	}
	for k, v := range want {
		if got := fields[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if ar := fields.Get("Authentication-Results"); !strings.HasPrefix(ar, "mx.receiver.test;") || !strings.Contains(ar, "dmarc=fail header.from=example.com") {
		t.Errorf("Authentication-Results = %q", ar)
	}
	if len(fields) != len(want)+1 {
		t.Errorf("unexpected fields: %v", fields)
	}
	if string(bodies[2]) != failureHeader {
		t.Errorf("headers part:\n%q\nwant\n%q", bodies[2], failureHeader)
	}
}

func TestFailureAlignmentAndKinds(t *testing.T) {
	// fo=1: DMARC passed through SPF but the DKIM signature failed.
	in := spoofInput()
	in.SPFResult, in.SPFDomain = "pass", "example.com"
	f, srv := failureFixture(t, dnstest.Zone{"_dmarc.example.com TXT": {"v=DMARC1; p=reject; fo=1; ruf=mailto:ruf@example.com"}}, in)
	if f.Result.Value != dmarc.ValuePass || f.Kind != dmarc.FailureDKIM {
		t.Fatalf("value %s kind %q", f.Result.Value, f.Kind)
	}
	f.Delivery = "delivered"
	now := time.Now()
	msgs := newFailureReporter(t, srv, &now).Build(context.Background(), f)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	body := string(msgs[0].Data)
	for _, s := range []string{"Auth-Failure: signature\r\n", "Identity-Alignment: spf\r\n", "Delivery-Result: delivered\r\n"} {
		if !strings.Contains(body, s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

// TestFailureDestinations covers RFC 7489 7.1 for ruf: verification of
// external destinations, the override by the verification record and
// the size limit.
func TestFailureDestinations(t *testing.T) {
	for _, c := range []struct {
		name string
		ruf  string
		zone dnstest.Zone
		want []string
	}{
		{"same organizational domain", "mailto:ruf@reports.example.com", nil, []string{"ruf@reports.example.com"}},
		{"external, authorised", "mailto:ruf@reports.test", dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"v=DMARC1"}}, []string{"ruf@reports.test"}},
		{"external, no record", "mailto:ruf@reports.test", nil, nil},
		{"external, not a DMARC record", "mailto:ruf@reports.test", dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"v=spf1 -all"}}, nil},
		{"external, one of several records valid", "mailto:ruf@reports.test",
			dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"hello", "v=DMARC1;"}}, []string{"ruf@reports.test"}},
		{"override on the same host", "mailto:ruf@reports.test",
			dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"v=DMARC1; ruf=mailto:a@reports.test,mailto:b@reports.test"}},
			[]string{"a@reports.test", "b@reports.test"}},
		{"override elsewhere cancels both", "mailto:ruf@reports.test",
			dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"v=DMARC1; ruf=mailto:a@reports.test,mailto:x@elsewhere.test"}}, nil},
		{"rua override does not touch ruf", "mailto:ruf@reports.test",
			dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"v=DMARC1; rua=mailto:agg@reports.test"}}, []string{"ruf@reports.test"}},
		{"size limit of the override", "mailto:ruf@reports.test",
			dnstest.Zone{"example.com._report._dmarc.reports.test TXT": {"v=DMARC1; ruf=mailto:small@reports.test!1k,mailto:big@reports.test!1m"}},
			[]string{"big@reports.test"}},
		{"size limit of the record", "mailto:small@example.com!1k,mailto:big@example.com!10k", nil, []string{"big@example.com"}},
		{"not mailto", "https://example.com/ruf", nil, nil},
		{"same mailbox twice", "mailto:ruf@example.com,mailto:RUF@example.com", nil, []string{"ruf@example.com"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			zone := dnstest.Zone{"_dmarc.example.com TXT": {"v=DMARC1; p=reject; ruf=" + c.ruf}}
			for k, v := range c.zone {
				zone[k] = v
			}
			f, srv := failureFixture(t, zone, spoofInput())
			now := time.Now()
			var got []string
			for _, o := range newFailureReporter(t, srv, &now).Build(context.Background(), f) {
				got = append(got, o.To...)
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("sent to %q, want %q", got, c.want)
			}
		})
	}
}

func TestVerification(t *testing.T) {
	for _, c := range []struct {
		txts []string
		tag  string
		want []string
		err  error
	}{
		{[]string{"v=DMARC1"}, tagRUA, nil, nil},
		{[]string{"v=DMARC1; rua=mailto:x@r.test!5m"}, tagRUA, []string{"mailto:x@r.test"}, nil},
		{[]string{"v=DMARC1; rua=mailto:x@r.test"}, tagRUF, nil, nil},
		{[]string{"v=DMARC1; ruf=mailto:x@R.TEST"}, tagRUF, []string{"mailto:x@R.TEST"}, nil},
		{[]string{"v=DMARC1; ruf=mailto:x@sub.r.test"}, tagRUF, nil, errOverrideOutside},
		{[]string{"v=DMARC1; ruf=https://r.test/reports"}, tagRUF, []string{"https://r.test/reports"}, nil},
		{[]string{"p=none; v=DMARC1"}, tagRUA, nil, errNotAuthorised},
		{[]string{"v=DMARC1 p=none"}, tagRUA, nil, errNotAuthorised},
		{nil, tagRUA, nil, errNotAuthorised},
		{[]string{"v=DMARC1; rua=mailto:a@r.test", "v=DMARC1; rua=mailto:b@r.test"}, tagRUA, []string{"mailto:a@r.test", "mailto:b@r.test"}, nil},
	} {
		got, err := verification(c.txts, c.tag, "r.test")
		var uris []string
		for _, u := range got {
			uris = append(uris, u.URI)
		}
		if (c.err == nil) != (err == nil) || (c.err != nil && !strings.Contains(err.Error(), c.err.Error())) || !reflect.DeepEqual(uris, c.want) {
			t.Errorf("verification(%q, %s) = %q, %v; want %q, %v", c.txts, c.tag, uris, err, c.want, c.err)
		}
	}
}

// TestFailureRateLimit checks the limits that keep forged mail from
// making us send mail: one report per policy domain and client address
// per interval, a cap per hour, and a bounded queue.
func TestFailureRateLimit(t *testing.T) {
	f, srv := failureFixture(t, dnstest.Zone{"_dmarc.example.com TXT": {"v=DMARC1; p=reject; ruf=mailto:ruf@example.com"}}, spoofInput())
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	r, err := NewFailureReporter(srv.Resolver(), testLog(), FailureOptions{ReceiverDomain: "mx.receiver.test",
		From: "r@mx.receiver.test", Interval: 10 * time.Minute, PerHour: 3, Queue: 2, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	from := func(ip string) Failure {
		g := f
		g.Input.SourceIP = netip.MustParseAddr(ip)
		return g
	}
	r.ReportFailure(ctx, from("192.0.2.1"))
	r.ReportFailure(ctx, from("192.0.2.1")) // same domain and address within the interval
	if len(r.queue) != 1 {
		t.Fatalf("queued %d, want 1", len(r.queue))
	}
	<-r.queue
	now = now.Add(11 * time.Minute)
	r.ReportFailure(ctx, from("192.0.2.1")) // the interval has passed
	r.ReportFailure(ctx, from("192.0.2.2")) // another address
	if len(r.queue) != 2 {
		t.Fatalf("queued %d, want 2", len(r.queue))
	}
	r.ReportFailure(ctx, from("192.0.2.3")) // allowed by the limits, but the queue is full
	if len(r.queue) != 2 {
		t.Fatalf("queued %d past the queue's size", len(r.queue))
	}
	<-r.queue
	<-r.queue
	r.ReportFailure(ctx, from("192.0.2.4")) // the fourth this hour: over the cap of 3
	if len(r.queue) != 0 {
		t.Fatalf("hourly cap not applied")
	}
	now = now.Add(time.Hour)
	r.ReportFailure(ctx, from("192.0.2.4"))
	if len(r.queue) != 1 {
		t.Fatalf("new hour: queued %d", len(r.queue))
	}
	<-r.queue

	// Not due: no ruf, a pass, a bounce, a report.
	g := from("192.0.2.9")
	g.MailFrom = ""
	r.ReportFailure(ctx, g)
	g = from("192.0.2.10")
	g.Header = []byte("From: a@example.com\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n")
	r.ReportFailure(ctx, g)
	g = from("192.0.2.13")
	g.Header = ReadHeader(strings.NewReader("Content-Type: multipart/report;\r\n report-type=feedback-report; boundary=y\r\n\r\nbody"))
	r.ReportFailure(ctx, g)
	g = from("192.0.2.11")
	g.Kind = ""
	g.Result.Record = &dmarc.Record{Policy: dmarc.PolicyReject}
	r.ReportFailure(ctx, g)
	g = from("192.0.2.12")
	g.Kind = ""
	g.Result.Value = dmarc.ValuePass
	g.Result.SPFAligned = true
	r.ReportFailure(ctx, g)
	if len(r.queue) != 0 {
		t.Fatalf("queued %d reports that are not due", len(r.queue))
	}
}

func TestFailureRun(t *testing.T) {
	f, srv := failureFixture(t, dnstest.Zone{"_dmarc.example.com TXT": {"v=DMARC1; p=reject; ruf=mailto:ruf@example.com"}}, spoofInput())
	now := time.Now()
	r := newFailureReporter(t, srv, &now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan []Outgoing)
	go func() {
		var sent []Outgoing
		r.Run(ctx, func(_ context.Context, o Outgoing) error {
			sent = append(sent, o)
			cancel()
			return nil
		})
		done <- sent
	}()
	r.ReportFailure(context.Background(), f)
	select {
	case sent := <-done:
		if len(sent) != 1 || sent[0].To[0] != "ruf@example.com" {
			t.Fatalf("sent %+v", sent)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run sent nothing")
	}
	if _, err := NewFailureReporter(srv.Resolver(), testLog(), FailureOptions{ReceiverDomain: "x.test", From: "nobody"}); err == nil {
		t.Error("bad report_from accepted")
	}
}

func TestReadHeader(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n"},
		{"A: 1\nB: 2\n\nbody\n", "A: 1\nB: 2\n"},
		{"A: 1\r\n", "A: 1\r\n"},
		{"\r\nbody", ""},
		{"A: " + strings.Repeat("x", 70000) + "\r\n\r\nbody", "A: " + strings.Repeat("x", maxReportedHeader-3)},
	} {
		if got := string(ReadHeader(strings.NewReader(c.in))); got != c.want {
			t.Errorf("ReadHeader(%.20q) = %.40q (%d bytes), want %.40q (%d)", c.in, got, len(got), c.want, len(c.want))
		}
	}
}

func FuzzVerification(f *testing.F) {
	for _, s := range []string{"v=DMARC1", "v=DMARC1; ruf=mailto:a@r.test!10k", "v=DMARC1; rua=mailto:a@r.test,mailto:b@x.test",
		"v=DMARC1;ruf=https://r.test/x", "v=spf1 -all", "v=DMARC1; ruf=mailto:%40@r.test", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, txt string) {
		for _, tag := range []string{tagRUA, tagRUF} {
			uris, err := verification([]string{txt}, tag, "r.test")
			if err != nil && len(uris) > 0 {
				t.Fatalf("%q: URIs with an error", txt)
			}
			for _, u := range uris {
				if hostOf(u) != "r.test" {
					t.Fatalf("%q: override %q leaves the destination host", txt, u.URI)
				}
			}
		}
	})
}

func FuzzReadHeader(f *testing.F) {
	for _, s := range []string{failureHeader + "\r\nbody", "A: 1\n\nB", "", "\r\n", "Content-Type: multipart/report; report-type=x\r\n\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := ReadHeader(strings.NewReader(s))
		if !strings.HasPrefix(s, string(h)) || len(h) > maxReportedHeader {
			t.Fatalf("header %q is not a prefix of the message", h)
		}
		loopRisk(Failure{MailFrom: "a@b", Header: h})
		crlf(h)
	})
}

// TestFailureReportASCII: the feedback-report part is declared 7bit, so
// envelope values with other bytes are replaced there.
func TestFailureReportASCII(t *testing.T) {
	f, srv := failureFixture(t, dnstest.Zone{"_dmarc.example.com TXT": {"v=DMARC1; p=reject; ruf=mailto:ruf@example.com"}}, spoofInput())
	f.EnvelopeID = "Q\x00\xffQ"
	f.MailFrom = "jörg@spoof.test"
	f.AuthResults = "mx.receiver.test;\r\n\tspf=fail smtp.mailfrom=jörg@spoof.test"
	now := time.Now()
	msgs := newFailureReporter(t, srv, &now).Build(context.Background(), f)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	data := string(msgs[0].Data)
	start := strings.Index(data, "Feedback-Type:")
	end := strings.Index(data[start:], "\r\n\r\n")
	part := data[start : start+end]
	for i := 0; i < len(part); i++ {
		if c := part[i]; (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c > 0x7e {
			t.Fatalf("byte %#x in the feedback-report part:\n%q", c, part)
		}
	}
	for _, want := range []string{"Original-Envelope-Id: Q??Q\r\n", "Original-Mail-From: <j?rg@spoof.test>\r\n",
		"Authentication-Results: mx.receiver.test;\r\n\tspf=fail smtp.mailfrom=j?rg@spoof.test\r\n"} {
		if !strings.Contains(part, want) {
			t.Errorf("part lacks %q:\n%s", want, part)
		}
	}
}
