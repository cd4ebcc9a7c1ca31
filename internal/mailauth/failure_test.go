package mailauth

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/internal/dmarc"
	"postern/internal/dmarcreport"
	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/inbound"
	"postern/internal/smtp"
)

// TestFailureReportHook runs the verifier on a message that fails DMARC
// with a real failure reporter behind it, and checks the report that
// comes out: it says what the verdict was and carries the header.
func TestFailureReportHook(t *testing.T) {
	srv := dnstest.Start(t, dnstest.Zone{
		"fail.example. TXT":        {"v=spf1 ip4:192.0.2.1 -all"},
		"_dmarc.fail.example. TXT": {"v=DMARC1; p=quarantine; ruf=mailto:ruf@fail.example"},
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rep, err := dmarcreport.NewFailureReporter(srv.Resolver(), log, dmarcreport.FailureOptions{
		ReceiverDomain: "mx.example.test", From: "dmarc-reports@mx.example.test"})
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(Options{Hostname: "mx.example.test", Resolver: srv.Resolver(), Log: log,
		Enforce: dmarc.EnforceOptions{Enforce: true, Quarantine: "junk"}, Failures: rep})
	conn := &inbound.Conn{ID: "c1", Remote: netip.MustParseAddrPort("127.0.0.2:41000"),
		Local: netip.MustParseAddrPort("127.0.0.1:25"), Helo: "client.test", EHLO: true, Values: map[any]any{}}
	tx := &inbound.Txn{Conn: conn, Values: map[any]any{},
		Env: &envelope.Envelope{From: "a@fail.example", EnvID: "E1", ClientIP: conn.IP(), Helo: conn.Helo,
			Rcpts: []envelope.Recipient{{Addr: "alice@example.test"}}}}
	ctx := context.Background()
	v.CheckMail(ctx, tx)
	m := &inbound.Message{}
	m.Write([]byte("From: a@fail.example\r\nTo: alice@example.test\r\nSubject: hook test\r\n\r\nsecret body\r\n"))
	vd := v.CheckData(ctx, tx, m)
	if vd == nil || vd.Action != inbound.Junk {
		t.Fatalf("verdict %+v", vd)
	}

	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var sent []dmarcreport.Outgoing
	rep.Run(rctx, func(_ context.Context, o dmarcreport.Outgoing) error {
		sent = append(sent, o)
		cancel()
		return nil
	})
	if len(sent) != 1 || sent[0].To[0] != "ruf@fail.example" {
		t.Fatalf("sent %d reports", len(sent))
	}
	body := string(sent[0].Data)
	for _, want := range []string{"Delivery-Result: spam\r\n", "Original-Mail-From: <a@fail.example>\r\n", "Original-Envelope-Id: E1\r\n",
		"Source-IP: 127.0.0.2\r\n", "Subject: hook test\r\n", "Authentication-Results: mx.example.test;"} {
		if !strings.Contains(body, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(body, "secret body") {
		t.Error("the report carries the body")
	}
}

func TestDeliveryResult(t *testing.T) {
	for _, c := range []struct {
		vd   *inbound.Verdict
		want string
	}{
		{nil, "delivered"},
		{&inbound.Verdict{Reply: &smtp.Reply{Code: 550}}, "reject"},
		{&inbound.Verdict{Action: inbound.Junk}, "spam"},
		{&inbound.Verdict{Action: inbound.Hold}, "policy"},
		{&inbound.Verdict{Action: inbound.Discard}, "other"},
	} {
		if got := deliveryResult(c.vd); got != c.want {
			t.Errorf("deliveryResult(%+v) = %q, want %q", c.vd, got, c.want)
		}
	}
}
