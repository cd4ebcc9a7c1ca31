package ldapmaps

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"postern/internal/testpeer"
)

// BenchmarkFetch10000 is one refresh of a virtusertable of 10,000
// entries from a real slapd with sendmail's schema: what each gateway
// asks of the directory every `refresh`.
func BenchmarkFetch10000(b *testing.B) {
	const entries = 10000
	var ldif strings.Builder
	ldif.WriteString("dn: ou=mail,dc=example,dc=org\nobjectClass: organizationalUnit\nou: mail\n\n" +
		"dn: sendmailMTAMapName=virtuser,ou=mail,dc=example,dc=org\nobjectClass: sendmailMTA\nobjectClass: sendmailMTAMap\nsendmailMTAMapName: virtuser\n\n")
	for i := 0; i < entries; i++ {
		key := fmt.Sprintf("user%d@virtual.example", i)
		fmt.Fprintf(&ldif, `dn: sendmailMTAKey=%s,sendmailMTAMapName=virtuser,ou=mail,dc=example,dc=org
objectClass: sendmailMTA
objectClass: sendmailMTAMap
objectClass: sendmailMTAMapObject
sendmailMTAMapName: virtuser
sendmailMTAKey: %s
sendmailMTAMapValue: mailbox%d@example.test
sendmailMTACluster: gateways

`, key, key, i)
	}
	d := testpeer.StartSlapd(b, ldif.String())
	src, err := New(Options{URL: d.URL, Base: "ou=mail," + d.Suffix, BindDN: d.BindDN, Password: d.Password,
		Cluster: "gateways", Timeout: 30 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	testpeer.BenchFetch(b, src.Fetch, "virtusertable", entries)
}
