package sendmailcf

import (
	"strings"
	"testing"
)

// Per-peer TLS entries are carried over as they are when postern reads
// them, commented out with the reason when it cannot, and the weak ones
// are flagged by the linter.
func TestAccessPeerEntries(t *testing.T) {
	text := strings.Join([]string{
		"Srv_Features:127.0.0.1 S",
		"Srv_Features: S",
		"TLS_Clt:partner.example VERIFY",
		"TLS_Srv:secure.example ENCR:56",
		"Try_TLS: NO",
		"Try_TLS:broken.example NO",
		"CERTISSUER:/C=US/O=Example/CN=CA RELAY",
		"CERTISSUER:/CN=Shared+20CA SUBJECT",
		"CERTSUBJECT:/CN=relay.example RELAY",
		"Srv_Features:10.1 Q",
		"",
	}, "\n")
	im := &Imported{}
	out := convertAccess(text, im)
	for _, want := range []string{"Srv_Features:127.0.0.1\tS\n", "TLS_Clt:partner.example\tVERIFY\n", "Try_TLS:broken.example\tNO\n",
		"CERTISSUER:/C=US/O=Example/CN=CA\tRELAY\n", "CERTSUBJECT:/CN=relay.example\tRELAY\n", "# not imported: Srv_Features:10.1 Q\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("imported access lacks %q:\n%s", want, out)
		}
	}
	var notes []string
	for _, n := range im.NotCarried {
		notes = append(notes, n.Text)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "unknown letter") {
		t.Errorf("notes: %q", notes)
	}
	entries, _ := ReadMap(text)
	rules := map[string]Severity{}
	for _, f := range lintAccess("access", entries, &Config{}) {
		rules[f.Rule+":"+strings.Fields(f.Message)[0]] = f.Severity
	}
	for rule, sev := range map[string]Severity{
		"access-starttls-off:Srv_Features:":                         SevFail,
		"access-starttls-off:Try_TLS:":                              SevFail,
		"access-tls-weak-bits:TLS_Srv:secure.example":               SevWarn,
		"access-cert-relay-issuer:CERTISSUER:/C=US/O=Example/CN=CA": SevWarn,
	} {
		if got, ok := rules[rule]; !ok || got != sev {
			t.Errorf("finding %s: %v %v (all: %v)", rule, got, ok, rules)
		}
	}
	if len(rules) != 4 {
		t.Errorf("findings: %v", rules)
	}
}
