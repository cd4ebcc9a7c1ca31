package submit

import (
	"context"
	"strings"
	"testing"

	"postern/internal/inbound"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

func localTxn(mode smtpd.Mode, user string, uid int, from smtp.Path) *inbound.Txn {
	c := &inbound.Conn{ID: "c1", Mode: mode, LocalUser: user, AuthUser: user, PeerUID: uid, Values: map[any]any{}}
	return &inbound.Txn{Conn: c, From: from, Values: map[any]any{}}
}

func TestSenderCheck(t *testing.T) {
	s := &SenderCheck{
		Hostname: "mx.example.test",
		IsLocal:  func(d string) bool { return d == "example.test" },
		Trusted:  map[int]bool{0: true, 65534: true},
	}
	ctx := context.Background()
	tests := []struct {
		name  string
		mode  smtpd.Mode
		user  string
		uid   int
		from  smtp.Path
		code  int
		warns bool
	}{
		{"own address at host name", smtpd.ModeLocal, "www-data", 33, smtp.Path{Local: "www-data", Domain: "mx.example.test"}, 0, false},
		{"own address, other case", smtpd.ModeLocal, "www-data", 33, smtp.Path{Local: "WWW-Data", Domain: "mx.example.test"}, 0, false},
		{"own address at local domain", smtpd.ModeLocal, "www-data", 33, smtp.Path{Local: "www-data", Domain: "example.test"}, 0, false},
		{"someone else's address", smtpd.ModeLocal, "www-data", 33, smtp.Path{Local: "ceo", Domain: "example.test"}, 550, false},
		{"own name at a remote domain", smtpd.ModeLocal, "www-data", 33, smtp.Path{Local: "www-data", Domain: "bank.example"}, 550, false},
		{"null sender", smtpd.ModeLocal, "www-data", 33, smtp.Path{}, 550, false},
		{"root may", smtpd.ModeLocal, "root", 0, smtp.Path{Local: "ceo", Domain: "bank.example"}, 0, false},
		{"server user may", smtpd.ModeLocal, "nobody", 65534, smtp.Path{}, 0, false},
		{"network clients are not looked at", smtpd.ModeSubmission, "alice@example.test", -1, smtp.Path{Local: "ceo", Domain: "bank.example"}, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			txn := localTxn(tc.mode, tc.user, tc.uid, tc.from)
			v := s.CheckMail(ctx, txn)
			code := 0
			if v != nil && v.Reply != nil {
				code = v.Reply.Code
				if !strings.Contains(v.Rule, tc.user) || !strings.Contains(v.Reply.Text, "leave -f out") {
					t.Errorf("verdict %+v", v)
				}
			}
			if code != tc.code {
				t.Fatalf("code %d, want %d (%+v)", code, tc.code, v)
			}
			s.CheckData(ctx, txn, nil)
			if len(txn.Headers()) != 0 {
				t.Errorf("headers added: %q", txn.Headers())
			}
		})
	}

	w := *s
	w.Warn = true
	txn := localTxn(smtpd.ModeLocal, "www-data", 33, smtp.Path{Local: "ceo", Domain: "bank.example"})
	if v := w.CheckMail(ctx, txn); v != nil {
		t.Fatalf("warn mode refused: %+v", v)
	}
	w.CheckData(ctx, txn, nil)
	h := txn.Headers()
	if len(h) != 1 || h[0] != "X-Authentication-Warning: mx.example.test: www-data set sender to ceo@bank.example using -f\r\n" {
		t.Errorf("warning header %q", h)
	}
}
