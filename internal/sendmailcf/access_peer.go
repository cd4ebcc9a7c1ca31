package sendmailcf

import (
	"fmt"
	"strconv"
	"strings"

	"postern/internal/maps"
)

// peerTags are the access map's per-peer TLS and feature tags, which
// postern reads with sendmail's meaning (internal/maps).
var peerTags = []string{"Try_TLS", "TLS_Srv", "TLS_Clt", "Srv_Features", "CERTISSUER", "CERTSUBJECT"}

func isPeerTag(tag string) bool {
	for _, t := range peerTags {
		if strings.EqualFold(tag, t) {
			return true
		}
	}
	return false
}

// carryPeerEntry writes a per-peer entry as it is when postern's access
// map parser takes it, else comments it out with the parser's reason.
func carryPeerEntry(b *strings.Builder, e Entry, im *Imported) {
	line := e.Tag + ":" + e.Key + "\t" + e.Value
	if _, err := maps.ParseAccess("access", strings.NewReader(line+"\n")); err != nil {
		msg := err.Error()
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
		im.NotCarried = append(im.NotCarried, Note{File: "access", Line: e.Line,
			Text: fmt.Sprintf("%s:%s %s: %s; entry commented out", e.Tag, e.Key, e.Value, msg)})
		fmt.Fprintf(b, "# not imported: %s\n", e.Raw)
		return
	}
	fmt.Fprintf(b, "%s\n", line)
}

// lintPeer flags per-peer TLS entries that weaken TLS.
func lintPeer(e Entry, add func(e Entry, rule string, sev Severity, msg, fix string)) {
	tag := strings.ToUpper(e.Tag)
	val := strings.ToUpper(strings.TrimSpace(e.Value))
	switch {
	case (tag == "TLS_CLT" || tag == "TLS_SRV") && strings.Contains(val, ":"):
		_, bits, _ := strings.Cut(val, ":")
		if n, err := strconv.Atoi(bits); err == nil && n < 128 {
			add(e, "access-tls-weak-bits", SevWarn,
				fmt.Sprintf("%s:%s %s accepts ciphers weaker than 128 bits.", e.Tag, e.Key, e.Value),
				"Ask for 128 bits at least (ENCR:128 or VERIFY:128).")
		}
	case tag == "SRV_FEATURES" && e.Key == "" && strings.Contains(e.Value, "S"):
		add(e, "access-starttls-off", SevFail,
			"Srv_Features: "+e.Value+" with no key turns STARTTLS off for every client.",
			"Keep STARTTLS on; turn it off only for the clients that need it (Srv_Features:127.0.0.1 S).")
	case tag == "TRY_TLS" && e.Key == "" && (val == "NO" || val == "NEVER"):
		add(e, "access-starttls-off", SevFail,
			"Try_TLS: NO with no key sends all outgoing mail in plaintext.",
			"Delete it; list only the servers whose TLS is broken (Try_TLS:broken.example NO).")
	case tag == "CERTISSUER" && val == "RELAY":
		add(e, "access-cert-relay-issuer", SevWarn,
			"CERTISSUER:"+e.Key+" RELAY lets every client with a certificate from that CA relay; with a public CA that is anyone.",
			"Use a CA of your own (and only it in [tls] client_ca_file), or write SUBJECT and list the clients with CERTSUBJECT: entries.")
	}
}
