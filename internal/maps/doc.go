// Package maps reads sendmail's plain-text maps (access, relay-domains,
// local-host-names, aliases, virtusertable, genericstable, mailertable)
// and answers lookups in sendmail's order, each answer naming the file,
// line and key that decided it. A Set loads them all from one directory and
// reloads them on demand or when a file changes, swapping the new version in
// atomically; a map that fails to parse keeps its previous version in force.
//
// There is no makemap step: the text files are the maps. Every parse error
// carries file:line, and parsers report all errors of a file at once.
package maps
