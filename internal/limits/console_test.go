package limits

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"postern/internal/ratelimit"
	"postern/internal/smtpd"
)

// Console login failures and AUTH failures count toward one lock-out,
// each way, and trusted networks (loopback) are not exempt for the
// console.
func TestConsoleLoginSharesAuthLockout(t *testing.T) {
	ctx := context.Background()
	loop := netip.MustParsePrefix("127.0.0.0/8")
	l := New(Options{
		Backend: ratelimit.NewMemory(ratelimit.MemoryOptions{}),
		Base:    Values{AuthFailuresPerIPPerHour: 3},
		Trusted: loop.Contains,
	})
	ip := netip.MustParseAddr("127.0.0.1")
	if err := l.LoginLocked(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if err := l.LoginFailed(ctx, ip, "a"); err != nil {
		t.Fatalf("first console failure: %v", err)
	}
	// An AUTH failure from a trusted client is not counted by AUTH
	// (exempt), so use a client address that is not trusted for the
	// other direction below.
	other := netip.MustParseAddr("192.0.2.7")
	c := conn("x", "192.0.2.7", smtpd.ModeSubmission)
	if v := l.CheckAuth(ctx, c, "u", true, false); v != nil {
		t.Fatalf("first AUTH failure: %+v", v)
	}
	if v := l.CheckAuth(ctx, c, "u", true, false); v != nil {
		t.Fatalf("second AUTH failure: %+v", v)
	}
	// The third failure, from the console, locks the address out.
	err := l.LoginFailed(ctx, other, "a")
	if err == nil || !strings.Contains(err.Error(), "too many failed logins from 192.0.2.7") {
		t.Fatalf("third failure, from the console: %v", err)
	}
	if v := l.CheckAuth(ctx, c, "u", false, false); code(v) != 454 {
		t.Fatalf("AUTH after a console lock-out: %+v", v)
	}
	if err := l.LoginLocked(ctx, other); err == nil {
		t.Fatal("console not locked out")
	}
	// Loopback counts for the console.
	l.LoginFailed(ctx, ip, "a")
	if err := l.LoginFailed(ctx, ip, "a"); err == nil {
		t.Fatal("loopback never locked out")
	}
	if err := l.LoginLocked(ctx, ip); err == nil || !strings.Contains(err.Error(), "try again") {
		t.Fatalf("loopback lock-out: %v", err)
	}
}
