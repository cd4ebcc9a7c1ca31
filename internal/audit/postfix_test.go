package audit_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"postern/internal/testpeer"
)

// waitPort waits until something accepts connections on addr.
func waitPort(t testing.TB, addr string, d time.Duration, alive func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if alive != nil {
			if err := alive(); err != nil {
				t.Fatalf("server for %s exited before listening: %v", addr, err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listening on %s after %s", addr, d)
}

// postfixOptions shape the private Postfix instance.
type postfixOptions struct {
	mynetworks string // e.g. "0.0.0.0/0" for an open relay
	cert, key  string // TLS files; "" for no STARTTLS
	extra      string // more main.cf lines
}

// startPostfix runs a private Postfix (testpeer.StartPostfix) shaped by
// o, and returns "127.0.0.1:port" of its smtpd.
func startPostfix(t *testing.T, o postfixOptions) string {
	t.Helper()
	settings := map[string]string{
		"myhostname":             "mx.example.test",
		"mydomain":               "example.test",
		"myorigin":               "$mydomain",
		"mydestination":          "$myhostname, $mydomain, localhost",
		"mynetworks":             o.mynetworks,
		"smtpd_banner":           "$myhostname ESMTP",
		"local_recipient_maps":   "",
		"smtputf8_enable":        "yes",
		"smtpd_soft_error_limit": "100",
		"smtpd_error_sleep_time": "0",
	}
	if o.cert != "" {
		settings["smtpd_tls_cert_file"] = o.cert
		settings["smtpd_tls_key_file"] = o.key
		settings["smtpd_tls_security_level"] = "may"
	}
	for _, line := range strings.Split(o.extra, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			settings[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return testpeer.StartPostfix(t, settings).SMTP
}

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// withTimeout gives a test context a deadline.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
