package audit

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func sampleReport() *Report {
	r := &Report{Schema: SchemaVersion, Target: "127.0.0.1:25"}
	r.add(Check{ID: "relay.open", Category: "relay", Title: "t", Status: Fail, Detail: "open", Fix: "close it",
		Evidence: []string{"S: 220 evil\x1b[2Jbanner"}, Probes: []Probe{{Name: "null-sender", From: "<>", To: "<a@b>", Result: "accepted", Reply: "250 ok", Verdict: Fail}}})
	r.add(Check{ID: "smtp.vrfy", Category: "smtp", Title: "v", Status: Pass, Detail: "fine", Fix: "dropped on pass"})
	r.add(Check{ID: "dns.mx", Category: "dns", Title: "m", Status: Warn, Detail: "no mx", Fix: "add one"})
	r.add(Check{ID: "smtp.smuggling", Category: "smuggling", Title: "s", Status: Skip, Detail: "not probed"})
	r.summarize()
	return r
}

func TestSummaryAndExitStatus(t *testing.T) {
	r := sampleReport()
	if r.Summary != (Summary{Pass: 1, Warn: 1, Fail: 1, Skip: 1, Score: 33}) {
		t.Errorf("summary %+v", r.Summary)
	}
	if r.ExitStatus() != 2 {
		t.Errorf("exit %d", r.ExitStatus())
	}
	r.Checks = r.Checks[1:]
	r.summarize()
	if r.ExitStatus() != 1 {
		t.Errorf("exit %d with warnings", r.ExitStatus())
	}
	r.Checks = r.Checks[:1]
	r.summarize()
	if r.ExitStatus() != 0 || r.Summary.Score != 100 {
		t.Errorf("exit %d, score %d", r.ExitStatus(), r.Summary.Score)
	}
	if r.Find("smtp.vrfy").Fix != "" {
		t.Error("a passed check keeps its fix")
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema", "target", "started", "duration", "checks", "summary"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	c := m["checks"].([]any)[0].(map[string]any)
	for _, k := range []string{"id", "category", "title", "status", "detail", "fix", "evidence", "probes"} {
		if _, ok := c[k]; !ok {
			t.Errorf("check lacks %q", k)
		}
	}
	p := c["probes"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "from", "to", "result", "reply", "verdict"} {
		if _, ok := p[k]; !ok {
			t.Errorf("probe lacks %q", k)
		}
	}
}

func TestWriteText(t *testing.T) {
	var plain, colour bytes.Buffer
	r := sampleReport()
	r.WriteText(&plain, TextOptions{})
	r.WriteText(&colour, TextOptions{Colour: true})
	if strings.Contains(plain.String(), "\x1b") {
		t.Errorf("escape codes without colour (or from the server's text):\n%q", plain.String())
	}
	if !strings.Contains(colour.String(), ansiRed) {
		t.Error("no colour with Colour set")
	}
	for _, want := range []string{"[FAIL] relay.open", "fix: close it", "probe null-sender", "1 passed, 1 warnings, 1 failed, 1 skipped; score 33%"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, plain.String())
		}
	}
}

func TestBannerSoftware(t *testing.T) {
	cases := map[string]string{
		"mx.example.test ESMTP":                                 "",
		"mx.example.test ESMTP Postfix":                         "Postfix",
		"mx.example.test ESMTP Postfix (Debian/GNU)":            "Postfix",
		"mx.example.test ESMTP Sendmail 8.17.1.9/8.17.1.9; Sat": "Sendmail",
		"mx.example.test ESMTP Exim 4.96 Sat, 21 Nov 2026":      "Exim",
		"mx.example.test [192.0.2.1] ready":                     "",
		"mx.example.test Microsoft ESMTP MAIL Service ready":    "Microsoft",
		"mx.example.test ESMTP ready 2.3.4":                     "2.3.4",
		"mx.example.test ESMTP Haraka/3.0.2 ready":              "Haraka",
		"mx.example.test ESMTP service ready at 01:02:03 +0000": "",
	}
	for in, want := range cases {
		if got := bannerSoftware(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
