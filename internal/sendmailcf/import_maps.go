package sendmailcf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// importMaps reads the maps for maps_dir: access and mailertable are
// converted, aliases, virtusertable and genericstable copied as they are.
func importMaps(opt ImportOptions, read readFunc, im *Imported) error {
	if src, ok, err := read("access"); err != nil {
		return err
	} else if ok {
		im.Maps["access"] = convertAccess(src, im)
	} else if _, err := os.Stat(filepath.Join(opt.Dir, "access.db")); err == nil {
		im.NotCarried = append(im.NotCarried, Note{File: "access.db", Text: "only the hashed map was found; postern reads text maps: recreate the text with makemap -u hash access > access and import again"})
	}
	aliases := opt.AliasesFile
	if aliases == "" {
		aliases = filepath.Join(opt.Dir, "aliases")
	}
	if b, err := os.ReadFile(aliases); err == nil {
		im.Maps["aliases"] = string(b)
		noteAliases(string(b), im)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, name := range []string{"virtusertable", "genericstable"} {
		if src, ok, err := read(name); err != nil {
			return err
		} else if ok {
			im.Maps[name] = src
		}
	}
	if src, ok, err := read("mailertable"); err != nil {
		return err
	} else if ok {
		im.Maps["mailertable"] = convertMailertable(src, im)
	}
	return nil
}

// convertAccess rewrites the access map for postern, noting every entry
// whose meaning changes and commenting out what postern does not take.
func convertAccess(src string, im *Imported) string {
	var b strings.Builder
	b.WriteString("# access map imported from sendmail by postern import-sendmail; see the import notes.\n")
	entries, errs := ReadMap(src)
	for _, err := range errs {
		im.NotCarried = append(im.NotCarried, Note{File: "access", Text: err.Error()})
	}
	for _, e := range entries {
		if isPeerTag(e.Tag) {
			carryPeerEntry(&b, e, im)
			continue
		}
		note := func(list *[]Note, text string) { *list = append(*list, Note{File: "access", Line: e.Line, Text: text}) }
		value := e.Value
		verb := strings.ToUpper(strings.Fields(value + " x")[0])
		// sendmail also takes a bare "550 text" as the value.
		if len(verb) == 3 && (verb[0] == '4' || verb[0] == '5') && isDigits(verb) {
			enh := "5.7.1"
			if verb[0] == '4' {
				enh = "4.7.1"
			}
			value = "ERROR:" + enh + ":" + strings.TrimSpace(value)
			verb = "ERROR"
			note(&im.Changed, "value \""+e.Value+"\" written as \""+value+"\" (same reply)")
		}
		switch verb {
		case "OK", "RELAY", "REJECT", "DISCARD", "SKIP":
		default:
			if !strings.HasPrefix(verb, "ERROR:") && verb != "ERROR" {
				note(&im.NotCarried, "value "+e.Value+" for "+e.Key+" has no postern equivalent; entry commented out")
				fmt.Fprintf(&b, "# not imported: %s\n", e.Raw)
				continue
			}
		}
		key := e.Key
		switch e.Tag {
		case "Connect", "From", "To", "":
		default:
			note(&im.NotCarried, "tag "+e.Tag+": has no postern equivalent; entry commented out")
			fmt.Fprintf(&b, "# not imported: %s\n", e.Raw)
			continue
		}
		tag := e.Tag
		if verb == "RELAY" {
			isAddr, _ := NetworkKey(key)
			switch {
			case tag == "From" || (tag == "" && strings.Contains(key, "@")):
				note(&im.Changed, e.Key+" RELAY relays because of a claimed sender; postern honours it only with allow_sender_relay = true, which this import does not set (use AUTH instead)")
			case tag == "Connect" && !isAddr:
				note(&im.NotCarried, "Connect:"+key+" RELAY grants relaying by the client's reverse DNS, which postern never does; entry commented out (list the hosts' addresses as Connect:ADDRESS RELAY)")
				fmt.Fprintf(&b, "# not imported: %s\n", e.Raw)
				continue
			case tag == "" && !isAddr:
				tag = "To"
				note(&im.Changed, "untagged "+key+" RELAY written as To:"+key+" RELAY: mail addressed to "+key+" is relayed as before, but hosts whose reverse DNS is in "+key+" may no longer relay (postern never relays by reverse DNS)")
			}
		}
		k := key
		if tag != "" {
			k = tag + ":" + key
		}
		fmt.Fprintf(&b, "%s\t%s\n", k, value)
	}
	return b.String()
}

func noteAliases(src string, im *Imported) {
	lines := strings.Split(src, "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' {
			continue
		}
		_, targets, ok := strings.Cut(t, ":")
		if !ok && (l[0] == ' ' || l[0] == '\t') {
			targets = t
		}
		for _, f := range strings.Split(targets, ",") {
			f = strings.Trim(strings.TrimSpace(f), `"`)
			switch {
			case strings.HasPrefix(f, "|"):
				im.Changed = append(im.Changed, Note{File: "aliases", Line: i + 1, Text: "pipe target " + f + " runs only when pipe delivery is enabled in postern"})
			case strings.HasPrefix(f, "/"):
				im.Changed = append(im.Changed, Note{File: "aliases", Line: i + 1, Text: "file target " + f + " is written only when file delivery is enabled in postern"})
			case strings.HasPrefix(f, ":include:"):
				im.Changed = append(im.Changed, Note{File: "aliases", Line: i + 1, Text: "include " + f + " is read from its path as before; copy it if it lives under /etc/mail"})
			}
		}
	}
}

// convertMailertable keeps smtp:, relay:, local:, lmtp: and error:
// entries, maps sendmail's other SMTP mailers to smtp:, and comments out
// the rest.
func convertMailertable(src string, im *Imported) string {
	var b strings.Builder
	entries, errs := ReadMap(src)
	for _, err := range errs {
		im.NotCarried = append(im.NotCarried, Note{File: "mailertable", Text: err.Error()})
	}
	for _, e := range entries {
		key := e.Key
		if e.Tag != "" {
			key = e.Tag + ":" + e.Key
		}
		mailer, rest, _ := strings.Cut(e.Value, ":")
		switch strings.ToLower(mailer) {
		case "smtp", "relay", "local", "lmtp", "error":
			fmt.Fprintf(&b, "%s\t%s\n", key, e.Value)
		case "esmtp", "smtp8", "dsmtp":
			fmt.Fprintf(&b, "%s\tsmtp:%s\n", key, rest)
			im.Changed = append(im.Changed, Note{File: "mailertable", Line: e.Line, Text: mailer + ":" + rest + " written as smtp:" + rest + " (postern's SMTP client always uses ESMTP and 8BITMIME when offered)"})
		default:
			fmt.Fprintf(&b, "# not imported: %s\n", e.Raw)
			im.NotCarried = append(im.NotCarried, Note{File: "mailertable", Line: e.Line, Text: "mailer " + mailer + " for " + key + " has no postern equivalent; entry commented out"})
		}
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
