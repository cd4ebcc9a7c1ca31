package submit

import (
	"context"
	"strings"
	"testing"

	"postern/internal/inbound"
	"postern/internal/maps"
	"postern/internal/smtp"
	"postern/internal/smtpd"
)

func loginCheck(t *testing.T) *LoginCheck {
	t.Helper()
	sl, err := maps.ParseSenderLogin("sender-login", strings.NewReader("boss@example.test carol@example.test\n@example.test webmail@example.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	al, err := maps.ParseAliases("aliases", strings.NewReader("sales: alice\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &maps.Maps{SenderLogin: sl, Aliases: al}
	return &LoginCheck{Maps: func() *maps.Maps { return m }, IsLocal: func(d string) bool { return d == "example.test" }, Envelope: true, HeaderFrom: true}
}

func authTxn(mode smtpd.Mode, login string, from smtp.Path) *inbound.Txn {
	c := &inbound.Conn{ID: "c1", Mode: mode, AuthUser: login, Values: map[any]any{}}
	return &inbound.Txn{Conn: c, From: from, Values: map[any]any{}}
}

func TestLoginCheckMail(t *testing.T) {
	c := loginCheck(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		mode  smtpd.Mode
		login string
		from  smtp.Path
		code  int
	}{
		{"own address", smtpd.ModeSubmission, "alice@example.test", smtp.Path{Local: "Alice", Domain: "example.test"}, 0},
		{"alias", smtpd.ModeSMTPS, "alice@example.test", smtp.Path{Local: "sales", Domain: "example.test"}, 0},
		{"map", smtpd.ModeSubmission, "carol@example.test", smtp.Path{Local: "boss", Domain: "example.test"}, 0},
		{"someone else's", smtpd.ModeSubmission, "carol@example.test", smtp.Path{Local: "sales", Domain: "example.test"}, 553},
		{"another domain", smtpd.ModeSubmission, "carol@example.test", smtp.Path{Local: "ceo", Domain: "bank.example"}, 553},
		{"logged in on port 25 too", smtpd.ModeMTA, "carol@example.test", smtp.Path{Local: "ceo", Domain: "bank.example"}, 553},
		{"null sender", smtpd.ModeSubmission, "carol@example.test", smtp.Path{}, 0},
		{"not logged in", smtpd.ModeMTA, "", smtp.Path{Local: "ceo", Domain: "bank.example"}, 0},
		{"local submission has its own rule", smtpd.ModeLocal, "www-data", smtp.Path{Local: "ceo", Domain: "bank.example"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := c.CheckMail(ctx, authTxn(tc.mode, tc.login, tc.from))
			code := 0
			if v != nil && v.Reply != nil {
				code = v.Reply.Code
				if v.Reply.Enhanced != "5.7.1" || !strings.Contains(v.Reply.Text, tc.login) || !strings.Contains(v.Reply.Text, tc.from.String()) || !strings.Contains(v.Rule, "sender_login") {
					t.Errorf("verdict %+v %+v", v, v.Reply)
				}
			}
			if code != tc.code {
				t.Fatalf("code %d, want %d (%+v)", code, tc.code, v)
			}
		})
	}
	off := *c
	off.Envelope = false
	if v := off.CheckMail(ctx, authTxn(smtpd.ModeSubmission, "carol@example.test", smtp.Path{Local: "ceo", Domain: "bank.example"})); v != nil {
		t.Errorf("envelope = off: %+v", v)
	}
}

func TestLoginCheckHeaderFrom(t *testing.T) {
	c := loginCheck(t)
	ctx := context.Background()
	tests := []struct {
		name, login, head string
		code              int
		enh               string
	}{
		{"own", "alice@example.test", "From: Alice <alice@example.test>\r\n", 0, ""},
		{"alias and own", "alice@example.test", "From: Sales <sales@example.test>, alice@example.test\r\n", 0, ""},
		{"no From", "alice@example.test", "Subject: x\r\n", 0, ""},
		{"display name in an unknown charset", "alice@example.test", "From: =?koi8-r?B?8NLJ18XU?= <alice@example.test>\r\n", 0, ""},
		{"the map gives carol the boss", "carol@example.test", "From: \"The Boss\" <boss@example.test>\r\n", 0, ""},
		{"the boss is carol's, the CEO is not", "carol@example.test", "From: \"The Boss\" <boss@example.test>, ceo@example.test\r\n", 550, "5.7.1"},
		{"second From field", "alice@example.test", "From: alice@example.test\r\nFrom: ceo@bank.example\r\n", 550, "5.7.1"},
		{"does not parse", "alice@example.test", "From: <alice@example.test\r\n", 550, "5.6.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := &inbound.Message{}
			m.Write([]byte(tc.head + "\r\nbody\r\n"))
			v := c.CheckData(ctx, authTxn(smtpd.ModeSubmission, tc.login, smtp.Path{Local: "alice", Domain: "example.test"}), m)
			code, enh := 0, ""
			if v != nil && v.Reply != nil {
				code, enh = v.Reply.Code, v.Reply.Enhanced
			}
			if code != tc.code || enh != tc.enh {
				t.Fatalf("verdict %+v, want %d %s", v, tc.code, tc.enh)
			}
		})
	}
	m := &inbound.Message{}
	m.Write([]byte("From: ceo@bank.example\r\n\r\n"))
	if v := c.CheckData(ctx, authTxn(smtpd.ModeLocal, "www-data", smtp.Path{}), m); v != nil {
		t.Errorf("local submission: %+v", v)
	}
}
