package sendmail

import (
	"testing"

	"postern/internal/smtp"
)

func TestEnvelopeSender(t *testing.T) {
	tests := []struct {
		from    string
		set     bool
		want    string
		wantErr bool
	}{
		{"", false, "cron@mx.example.test", false},
		{"", true, "", false},
		{"<>", true, "", false},
		{"boss@example.org", true, "boss@example.org", false},
		{"<boss@example.org>", true, "boss@example.org", false},
		{"root", true, "root@mx.example.test", false},
		{"a@b.example, c@d.example", true, "", true},
		{"not an address", true, "", true},
	}
	for _, tc := range tests {
		got, err := EnvelopeSender(&Args{From: tc.from, FromSet: tc.set}, "cron", "mx.example.test")
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("-f %q: %q, %v", tc.from, got, err)
		}
	}
}

func TestReplyCode(t *testing.T) {
	tests := []struct {
		code int
		enh  string
		want int
	}{
		{451, "4.3.0", ExTempFail},
		{421, "4.7.0", ExTempFail},
		{550, "5.1.1", ExNoUser},
		{550, "5.7.1", ExNoPerm},
		{552, "5.3.4", ExDataErr},
		{554, "5.6.0", ExDataErr},
		{554, "5.0.0", ExUnavailable},
		{550, "", ExUnavailable},
	}
	for _, tc := range tests {
		if got := ReplyCode(&smtp.Reply{Code: tc.code, Enhanced: tc.enh}); got != tc.want {
			t.Errorf("%d %s: %d, want %d", tc.code, tc.enh, got, tc.want)
		}
	}
}
