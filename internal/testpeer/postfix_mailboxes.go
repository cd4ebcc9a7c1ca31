package testpeer

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// StartPostfixMailboxes is StartPostfix as the mail server of domain,
// named hostname, with a Maildir for each of the local parts users
// (virtual_mailbox_maps, owned by nobody): any other address of domain
// gets Postfix's "User unknown in virtual mailbox table". It returns
// Postfix, its smtpd's port and the directory holding the Maildirs
// (boxes/USER/new...).
func StartPostfixMailboxes(t testing.TB, hostname, domain string, users ...string) (pf *Postfix, port int, boxes string) {
	t.Helper()
	boxes = t.TempDir()
	os.Chmod(filepath.Dir(boxes), 0o755)
	os.Chown(boxes, 65534, 65534)
	var entries []string
	for _, u := range users {
		entries = append(entries, u+"@"+domain+"="+u+"/")
	}
	pf = StartPostfix(t, map[string]string{
		"myhostname":              hostname,
		"virtual_mailbox_domains": domain,
		"virtual_mailbox_maps":    "inline:{" + strings.Join(entries, ", ") + "}",
		"virtual_mailbox_base":    boxes,
		"virtual_uid_maps":        "static:65534",
		"virtual_gid_maps":        "static:65534",
		"virtual_minimum_uid":     "100",
	})
	port, err := strconv.Atoi(pf.SMTP[strings.LastIndexByte(pf.SMTP, ':')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return pf, port, boxes
}
