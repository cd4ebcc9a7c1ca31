// Package ldapmaps reads sendmail's maps from an LDAP directory kept in
// sendmail's own schema (cf/sendmail.schema: sendmailMTAMapObject,
// sendmailMTAAliasObject and sendmailMTAClass entries), so that a
// directory that serves sendmail serves postern unchanged. Each map is
// read whole and given to internal/maps in its file's text format, so
// that one parser, with sendmail's lookup order, judges both sources.
package ldapmaps

import (
	"fmt"
	"sort"
	"strings"
)

// kind is how one of postern's map files is kept in sendmail's schema.
type kind int

const (
	kindMap   kind = iota // sendmailMTAMapObject, key and one value
	kindAlias             // sendmailMTAAliasObject, key and values
	kindClass             // sendmailMTAClass, values are the class's words
)

// layout is where one map file lives in the directory.
type layout struct {
	kind kind
	// name is sendmailMTAMapName for maps (sendmail's FEATURE names it),
	// sendmailMTAClassName for classes.
	name string
}

// layouts maps postern's map files onto sendmail's LDAP names, as
// sendmail's FEATURE(`access_db', `LDAP') and friends define them.
var layouts = map[string]layout{
	"access":           {kindMap, "access"},
	"virtusertable":    {kindMap, "virtuser"},
	"genericstable":    {kindMap, "generics"},
	"mailertable":      {kindMap, "mailer"},
	"aliases":          {kindAlias, "aliases"},
	"local-host-names": {kindClass, "w"},
	"relay-domains":    {kindClass, "R"},
}

// Files lists the map files a directory can serve, sorted.
func Files() []string {
	out := make([]string, 0, len(layouts))
	for f := range layouts {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// Query is one search: the filter and the attributes it asks for.
type Query struct {
	Filter string
	Attrs  []string
}

// QueryFor returns the search sendmail makes for file's map (without
// the key: the whole map is read), for the MTA cluster and host given:
// entries of the cluster or of this host, as sendmail's default
// (|(sendmailMTACluster=...)(sendmailMTAHost=$j)).
func QueryFor(file, cluster, host string) (Query, error) {
	l, ok := layouts[file]
	if !ok {
		return Query{}, fmt.Errorf("%s cannot come from LDAP (sendmail's schema has: %s)", file, strings.Join(Files(), ", "))
	}
	who := "(sendmailMTAHost=" + escape(host) + ")"
	if cluster != "" {
		who = "(|(sendmailMTACluster=" + escape(cluster) + ")" + who + ")"
	}
	switch l.kind {
	case kindMap:
		return Query{Filter: "(&(objectClass=sendmailMTAMapObject)" + who + "(sendmailMTAMapName=" + escape(l.name) + "))",
			Attrs: []string{"sendmailMTAKey", "sendmailMTAMapValue", "sendmailMTAMapSearch", "sendmailMTAMapURL"}}, nil
	case kindAlias:
		return Query{Filter: "(&(objectClass=sendmailMTAAliasObject)(sendmailMTAAliasGrouping=" + escape(l.name) + ")" + who + ")",
			Attrs: []string{"sendmailMTAKey", "sendmailMTAAliasValue", "sendmailMTAAliasSearch", "sendmailMTAAliasURL"}}, nil
	default:
		return Query{Filter: "(&(objectClass=sendmailMTAClass)(sendmailMTAClassName=" + escape(l.name) + ")" + who + ")",
			Attrs: []string{"sendmailMTAClassValue", "sendmailMTAClassSearch", "sendmailMTAClassURL"}}, nil
	}
}

// escape quotes a value for an LDAP filter (RFC 4515 3).
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '(', ')', '\\', 0:
			fmt.Fprintf(&b, "\\%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Entry is one directory entry a Query found: its DN and attributes.
type Entry struct {
	DN    string
	Attrs map[string][]string
}

// get returns the values of attribute name (matched without case, as
// LDAP attribute names are).
func (e Entry) get(name string) []string {
	for k, v := range e.Attrs {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}
