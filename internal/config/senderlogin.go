package config

// SenderLogin is the [sender_login] table: which sender addresses a
// client logged in with AUTH may use (Postfix's
// reject_authenticated_sender_login_mismatch), on every listener. A
// login may use its own address, the addresses the sender-login map in
// maps_dir gives it, and the local addresses its aliases and
// virtusertable entries deliver to it. Local submission (postern
// sendmail) has its own rule, [local] sender_check.
type SenderLogin struct {
	// Envelope is "refuse" (553 5.7.1 at MAIL FROM, the default) or
	// "off".
	Envelope string `toml:"envelope"`
	// HeaderFrom is "refuse" (550 5.7.1 at the end of DATA for a From:
	// address the login may not use, the default) or "off".
	HeaderFrom string `toml:"header_from"`
}

// The [sender_login] choices.
const (
	LoginRefuse = "refuse"
	LoginOff    = "off"
)

func defaultSenderLogin() SenderLogin {
	return SenderLogin{Envelope: LoginRefuse, HeaderFrom: LoginRefuse}
}

// senderLogin validates [sender_login].
func (d *decoder) senderLogin(c *Config) {
	for _, f := range []struct{ path, v string }{
		{"sender_login.envelope", c.SenderLogin.Envelope},
		{"sender_login.header_from", c.SenderLogin.HeaderFrom},
	} {
		if f.v != LoginRefuse && f.v != LoginOff {
			d.errorf(f.path, "%s must be %q or %q, not %q", f.path, LoginRefuse, LoginOff, f.v)
		}
	}
}
