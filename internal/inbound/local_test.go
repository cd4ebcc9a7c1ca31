package inbound

import (
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"postern/internal/envelope"
	"postern/internal/smtpd"
)

func TestLocalSession(t *testing.T) {
	b := New(Options{Hostname: "mx.example.test"})
	ctx := context.Background()
	uid := os.Getuid()
	sess, rep := b.NewSession(ctx, smtpd.ConnInfo{ID: "c1", Listener: "local", Mode: smtpd.ModeLocal, PeerUID: uid})
	if rep != nil {
		t.Fatalf("refused: %v", rep)
	}
	c := sess.(*session).conn
	if c.LocalUser != LoginName(uid) || c.AuthUser != c.LocalUser || c.PeerUID != uid || c.Client() != "local:"+c.LocalUser {
		t.Errorf("conn %+v", c)
	}
	// A local listener that cannot name its user serves nobody.
	if _, rep := b.NewSession(ctx, smtpd.ConnInfo{ID: "c2", Listener: "local", Mode: smtpd.ModeLocal, PeerUID: -1}); rep == nil || rep.Code != 554 {
		t.Errorf("unknown local user: %v", rep)
	}
	// A network client is no local user, whatever its listener.
	sess, _ = b.NewSession(ctx, smtpd.ConnInfo{ID: "c3", Remote: netip.MustParseAddrPort("192.0.2.1:2525"), Mode: smtpd.ModeMTA, PeerUID: -1})
	if c := sess.(*session).conn; c.LocalUser != "" || c.AuthUser != "" || c.Client() != "192.0.2.1" {
		t.Errorf("network conn %+v", c)
	}
}

func TestLoginName(t *testing.T) {
	if got := LoginName(0); got != "root" {
		t.Errorf("uid 0: %q", got)
	}
	if got := LoginName(2147480000); got != "uid2147480000" {
		t.Errorf("unknown uid: %q", got)
	}
}

func TestLocalReceived(t *testing.T) {
	env := &envelope.Envelope{ID: "M1", AuthUser: "www-data", Rcpts: []envelope.Recipient{{Addr: "alice@example.test"}}}
	now := time.Date(2026, 11, 21, 1, 2, 3, 0, time.UTC)
	got := string(receivedHeader("mx.example.test", env, true, now))
	want := "Received: by mx.example.test (postern, from local user www-data)\r\n\tid M1\r\n\tfor <alice@example.test>; Sat, 21 Nov 2026 01:02:03 +0000\r\n"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	env.ClientIP = netip.MustParseAddr("192.0.2.1")
	if got := string(receivedHeader("mx.example.test", env, true, now)); !strings.HasPrefix(got, "Received: from ") {
		t.Errorf("network client: %q", got)
	}
}
