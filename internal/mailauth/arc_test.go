package mailauth

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"postern/internal/arc"
	"postern/internal/dkim"
	"postern/internal/dmarc"
	"postern/internal/dmarcreport"
	"postern/internal/dnstest"
	"postern/internal/envelope"
	"postern/internal/inbound"
)

// memStore keeps the evaluations recorded.
type memStore struct{ evals []dmarcreport.Evaluation }

func (s *memStore) Append(_ context.Context, e dmarcreport.Evaluation) error {
	s.evals = append(s.evals, e)
	return nil
}
func (s *memStore) Scan(context.Context, time.Time, time.Time, func(dmarcreport.Evaluation) error) error {
	return nil
}
func (s *memStore) Claim(context.Context, string) (bool, error)   { return true, nil }
func (s *memStore) Claimed(context.Context, string) (bool, error) { return false, nil }

// TestARCOverride: a message from a p=reject domain that fails DMARC
// here (forwarded: SPF fails, no DKIM) is let in when its newest ARC
// seal is a trusted sealer's whose AAR saw DMARC pass, and refused when
// the sealer is not trusted.
func TestARCOverride(t *testing.T) {
	key, _, err := dkim.GenerateKey(dkim.AlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := dkim.PublicRecord(key)
	srv := dnstest.Start(t, dnstest.Zone{
		"fail.example. TXT":                    {"v=spf1 ip4:192.0.2.1 -all"},
		"_dmarc.fail.example. TXT":             {"v=DMARC1; p=reject"},
		"arc._domainkey.lists.example.net TXT": {rec},
	})
	msg := "Authentication-Results: lists.example.net; spf=pass smtp.mailfrom=a@fail.example;\r\n\tdmarc=pass header.from=fail.example\r\n" +
		"From: a@fail.example\r\nTo: list@lists.example.net\r\nSubject: forwarded\r\n\r\nbody\r\n"
	set, err := arc.Seal(strings.NewReader(msg), arc.SealOptions{Domain: "lists.example.net", Selector: "arc", Key: key,
		AuthServID: "lists.example.net", CV: arc.None})
	if err != nil {
		t.Fatal(err)
	}
	sealed := set + msg
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name     string
		trusted  []string
		rejected bool
	}{
		{"trusted", []string{"lists.example.net"}, false},
		{"untrusted", []string{"other.example"}, true},
	} {
		store := &memStore{}
		v := NewVerifier(Options{Hostname: "mx.example.test", Resolver: srv.Resolver(), Log: log, Store: store,
			Enforce: dmarc.EnforceOptions{Enforce: true}, TrustedSealers: tt.trusted})
		conn := &inbound.Conn{ID: "c1", Remote: netip.MustParseAddrPort("127.0.0.2:41000"),
			Local: netip.MustParseAddrPort("127.0.0.1:25"), Helo: "lists.example.net", EHLO: true, Values: map[any]any{}}
		tx := &inbound.Txn{Conn: conn, Values: map[any]any{}, Env: &envelope.Envelope{From: "a@fail.example",
			ClientIP: conn.IP(), Helo: conn.Helo, Rcpts: []envelope.Recipient{{Addr: "alice@example.test"}}}}
		ctx := context.Background()
		v.CheckMail(ctx, tx)
		m := &inbound.Message{}
		m.Write([]byte(sealed))
		vd := v.CheckData(ctx, tx, m)
		if (vd != nil && vd.Reply != nil) != tt.rejected {
			t.Fatalf("%s: verdict %+v", tt.name, vd)
		}
		ar := strings.Join(tx.Headers(), "\n")
		if !strings.Contains(ar, "arc=pass") {
			t.Errorf("%s: no arc=pass in %s", tt.name, ar)
		}
		overridden := strings.Contains(ar, "local_policy") && strings.Contains(ar, "trusted sealer lists.example.net")
		if overridden == tt.rejected {
			t.Errorf("%s: Authentication-Results %s", tt.name, ar)
		}
		if len(store.evals) != 1 {
			t.Fatalf("%s: %d evaluations", tt.name, len(store.evals))
		}
		e := store.evals[0]
		got := len(e.Reasons) == 1 && e.Reasons[0].Type == "local_policy" && strings.Contains(e.Reasons[0].Comment, "lists.example.net")
		if got == tt.rejected || tt.rejected && e.Disposition != "reject" || !tt.rejected && e.Disposition != "none" {
			t.Errorf("%s: evaluation %+v", tt.name, e)
		}
	}
}
