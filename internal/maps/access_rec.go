package maps

import (
	"net/netip"
	"strings"
)

// accessRec is how the access map keeps one entry: a third of the size of
// an AccessEntry. The file name is the map's, the tag a number, and each
// number as narrow as its values allow (a count up to 2^30, a reply code,
// a strength up to 4096 bits, a line of a file of at most 64 MiB). A
// lookup turns it back into an AccessEntry (entry).
type accessRec struct {
	key, enhanced, text string
	features            Features
	line, number, bits  int32
	code                uint16
	tag, action, tls    uint8
	verify, checkSubj   bool
}

// tagOf numbers the tags: 0 for untagged entries, then knownTags from 1.
func tagOf(tag string) uint8 {
	for i, t := range knownTags {
		if t == tag {
			return uint8(i + 1)
		}
	}
	return 0
}

func tagName(n uint8) string {
	if n == 0 {
		return ""
	}
	return knownTags[n-1]
}

// pack gives the kept form of a parsed entry.
func pack(e *AccessEntry) accessRec {
	return accessRec{
		key: e.Key, enhanced: e.Enhanced, text: e.Text, features: e.Features,
		line: int32(e.Source.Line), number: int32(e.Number), bits: int32(e.TLSReq.Bits),
		code: uint16(e.Code), tag: tagOf(e.Tag), action: uint8(e.Action), tls: uint8(e.TLS),
		verify: e.TLSReq.Verify, checkSubj: e.CheckSubject,
	}
}

// entry gives r as a lookup returns it: from file, found by lookup.
func (r *accessRec) entry(file, lookup string) AccessEntry {
	return AccessEntry{
		Tag: tagName(r.tag), Key: r.key, Action: Action(r.action), Code: int(r.code),
		Enhanced: r.enhanced, Text: r.text, Number: int(r.number), TLS: TLSPolicy(r.tls),
		Features: r.features, TLSReq: TLSRequirement{Verify: r.verify, Bits: int(r.bits)},
		CheckSubject: r.checkSubj, Source: Source{File: file, Line: int(r.line)}, Lookup: lookup,
	}
}

// add keeps e as the next entry and returns its index.
func (a *Access) add(e *AccessEntry) int32 {
	a.recs = append(a.recs, pack(e))
	a.n++
	return int32(len(a.recs) - 1)
}

// presize counts, before parsing, how many entries each tag will have
// under names and under networks, and makes the tables that size: the
// hash tables then never grow and rehash while a large map loads. The
// counts only guess (a key that looks like a network may be a domain,
// a line may be wrong); they need not be exact.
func (a *Access) presize(text string) {
	names, nets := make([]int, len(knownTags)+1), make([]int, len(knownTags)+1)
	total := 0
	for text != "" {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		key, _ := splitKV(line)
		if key == "" || key[0] == '#' {
			continue
		}
		tag, rest, _ := splitTag(key)
		if looksLikeNet(rest) {
			nets[tagOf(tag)]++
		} else {
			names[tagOf(tag)]++
		}
		total++
	}
	a.recs = make([]accessRec, 0, total)
	for i := range names {
		if names[i]+nets[i] == 0 {
			continue
		}
		k := &accessKeys{names: make(map[string]int32, names[i])}
		if nets[i] > 0 {
			k.nets.m = make(map[netip.Prefix]int32, nets[i])
		}
		a.tags[tagName(uint8(i))] = k
	}
}

// looksLikeNet is presize's guess that a key is an address or network.
func looksLikeNet(k string) bool {
	return k != "" && (k[0] >= '0' && k[0] <= '9' || strings.IndexByte(k, ':') >= 0)
}
