package testpeer

import (
	"os/exec"
	"strings"
	"testing"

	"postern/internal/testenv"
)

// TestSlapdSendmailSchema checks that the private directory takes
// entries in sendmail's schema, as a sendmail site's directory holds
// them, answers a sendmail-style map search, and comes back after Stop.
func TestSlapdSendmailSchema(t *testing.T) {
	ldif := `dn: sendmailMTAMapName=access,dc=example,dc=org
objectClass: sendmailMTA
objectClass: sendmailMTAMap
sendmailMTAMapName: access

dn: sendmailMTAKey=Connect:192.0.2.1,sendmailMTAMapName=access,dc=example,dc=org
objectClass: sendmailMTA
objectClass: sendmailMTAMap
objectClass: sendmailMTAMapObject
sendmailMTAMapName: access
sendmailMTAKey: Connect:192.0.2.1
sendmailMTAMapValue: REJECT
sendmailMTACluster: gateways
`
	s := StartSlapd(t, ldif)
	search := func() string {
		ldapsearch := testenv.LookPath(t, "ldapsearch")
		out, err := exec.Command(ldapsearch, "-x", "-LLL", "-H", s.URL, "-D", s.BindDN, "-w", s.Password, "-b", s.Suffix,
			"(&(objectClass=sendmailMTAMapObject)(sendmailMTACluster=gateways)(sendmailMTAMapName=access)(sendmailMTAKey=Connect:192.0.2.1))",
			"sendmailMTAMapValue").CombinedOutput()
		if err != nil {
			t.Fatalf("ldapsearch: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := search(); !strings.Contains(out, "sendmailMTAMapValue: REJECT") {
		t.Fatalf("search found:\n%s", out)
	}
	s.Stop()
	s.Start(t)
	if out := search(); !strings.Contains(out, "sendmailMTAMapValue: REJECT") {
		t.Fatalf("after a restart, search found:\n%s", out)
	}
}
