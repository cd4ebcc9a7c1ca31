package arc

import (
	"strings"
	"testing"
)

const (
	sigB  = "dGVzdA=="
	sealV = "i=1; a=rsa-sha256; cv=none; d=example.org; s=sel; t=12345; b=" + sigB
	amsV  = "i=2; a=rsa-sha256; c=relaxed/simple; d=Example.ORG.; s=sel; h=from:to; bh=" + sigB + "; b=" + sigB
)

func TestParseAS(t *testing.T) {
	tests := []struct {
		name, v, err string
		want         AS
	}{
		{"ok", sealV, "", AS{Instance: 1, Algorithm: "rsa-sha256", CV: None, Domain: "example.org", Selector: "sel", Time: 12345}},
		{"trailing semicolon", sealV + ";", "", AS{Instance: 1, CV: None}},
		{"no t", strings.Replace(sealV, "t=12345; ", "", 1), "", AS{Instance: 1, CV: None, Time: -1}},
		{"unknown tag", sealV + "; x=y", "", AS{Instance: 1, CV: None}},
		{"empty tag-spec", strings.Replace(sealV, "; ", ";; ", 1), "empty tag-spec", AS{}},
		{"bad tag name", sealV + "; _=1", "invalid tag name", AS{}},
		{"duplicate", sealV + "; cv=pass", "duplicate", AS{}},
		{"h= present", sealV + "; h=from", "h= in an ARC-Seal", AS{}},
		{"cv missing", strings.Replace(sealV, "cv=none; ", "", 1), "cv= missing", AS{}},
		{"cv invalid", strings.Replace(sealV, "cv=none", "cv=None", 1), "not none, pass or fail", AS{}},
		{"i zero", strings.Replace(sealV, "i=1", "i=0", 1), "not 1 to 50", AS{}},
		{"i 51", strings.Replace(sealV, "i=1", "i=51", 1), "not 1 to 50", AS{}},
		{"i letter", strings.Replace(sealV, "i=1", "i=a", 1), "not a number", AS{}},
		{"sha1", strings.Replace(sealV, "rsa-sha256", "rsa-sha1", 1), "unsupported algorithm", AS{}},
		{"d invalid", strings.Replace(sealV, "example.org", "example..", 1), "not a domain", AS{}},
		{"t invalid", strings.Replace(sealV, "12345", "12 345", 1), "not a timestamp", AS{}},
		{"b empty", strings.Replace(sealV, sigB, "", 1), "not a signature", AS{}},
		{"s missing", strings.Replace(sealV, "s=sel; ", "", 1), "s= missing", AS{}},
	}
	for _, tt := range tests {
		got, err := ParseAS([]byte(tt.v))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.Instance != tt.want.Instance || got.CV != tt.want.CV || tt.want.Domain != "" && got.Domain != tt.want.Domain ||
			tt.want.Time != 0 && got.Time != tt.want.Time || string(got.Sig) != "test" {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
		if v := tt.v[got.BStart:got.BEnd]; strings.TrimSpace(v) != sigB {
			t.Errorf("%s: b= at %d-%d is %q", tt.name, got.BStart, got.BEnd, v)
		}
	}
}

func TestParseAMS(t *testing.T) {
	tests := []struct {
		name, v, err    string
		hdrRel, bodyRel bool
	}{
		{"ok", amsV, "", true, false},
		{"no c", strings.Replace(amsV, "c=relaxed/simple; ", "", 1), "", false, false},
		{"c empty", strings.Replace(amsV, "c=relaxed/simple", "c=", 1), "not a canonicalization", false, false},
		{"c invalid", strings.Replace(amsV, "relaxed/simple", "loose", 1), "not a canonicalization", false, false},
		{"h names AS", strings.Replace(amsV, "h=from:to", "h=from: ARC-Seal", 1), "names ARC-Seal", false, false},
		{"h empty", strings.Replace(amsV, "h=from:to", "h=", 1), "", true, false},
		{"h missing", strings.Replace(amsV, "h=from:to; ", "", 1), "h= missing", false, false},
		{"bh missing", strings.Replace(amsV, "bh="+sigB+"; ", "", 1), "bh= missing", false, false},
		{"bh not base64", strings.Replace(amsV, "bh="+sigB, "bh=!!", 1), "not a hash", false, false},
		{"key case", strings.Replace(amsV, "h=", "H=", 1), "h= missing", false, false},
	}
	for _, tt := range tests {
		got, err := ParseAMS([]byte(tt.v))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.Instance != 2 || got.Domain != "example.org" || got.HeaderRelaxed != tt.hdrRel || got.BodyRelaxed != tt.bodyRel {
			t.Errorf("%s: got %+v", tt.name, got)
		}
	}
}

func TestParseAAR(t *testing.T) {
	tests := []struct {
		name, v, id, err string
		results          []string
	}{
		{"ok", " i=1; Lists.Example.org;\r\n\tspf=pass smtp.mailfrom=a@b.example;\r\n  dkim=pass (1024-bit  key) header.d=b.example", "lists.example.org", "",
			[]string{"spf=pass smtp.mailfrom=a@b.example", "dkim=pass (1024-bit key) header.d=b.example"}},
		{"version and none", "i = 3 ; mx.example.net 1; none", "mx.example.net", "", []string{"none"}},
		{"semicolon in comment", "i=1; mx.example.net; dkim=pass (a; b) header.d=x", "mx.example.net", "", []string{"dkim=pass (a; b) header.d=x"}},
		{"semicolon quoted", `i=1; mx.example.net; dkim=fail reason="a; b"`, "mx.example.net", "", []string{`dkim=fail reason="a; b"`}},
		{"not prefixed", "mx.example.net; i=1; spf=pass", "", "does not start with i=", nil},
		{"no semicolon", "i=1 mx.example.net; spf=pass", "", "not 1 to 50", nil},
		{"no instance", "i=; mx.example.net; spf=pass", "", "not 1 to 50", nil},
		{"no authserv-id", "i=1; spf=pass", "", "without an authserv-id", nil},
		{"only instance", "i=1", "", "no \";\"", nil},
	}
	for _, tt := range tests {
		got, err := ParseAAR([]byte(tt.v))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got.AuthServID != tt.id || strings.Join(got.Results, "|") != strings.Join(tt.results, "|") {
			t.Errorf("%s: got %q %q", tt.name, got.AuthServID, got.Results)
		}
	}
}

func TestStatusOf(t *testing.T) {
	for v, want := range map[string]string{
		"mx.example.net;\r\n\tspf=pass smtp.mailfrom=x;\r\n\tarc=pass header.oldest-pass=0": "pass",
		"mx.example.net; arc=fail reason=\"ARC-Seal i=1: x\"":                               "fail",
		"mx.example.net; dkim=pass (arc=pass in a comment)":                                 "",
		"mx.example.net; none": "",
	} {
		if got := StatusOf(v); got != want {
			t.Errorf("StatusOf(%q) = %q, want %q", v, got, want)
		}
	}
}
