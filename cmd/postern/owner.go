package main

import (
	"postern/internal/config"
	"postern/internal/privs"
)

// serverOwner is the account whose files the data dir holds: the
// configured user when a command runs as root, else nobody to change to.
func serverOwner(cfg *config.Config) (privs.Owner, error) {
	return privs.ServiceOwner(cfg.User)
}

// ownerNote says to whom a written file was given, for a command's output.
func ownerNote(o privs.Owner) string {
	if !o.IsSet() {
		return ""
	}
	return ", owned by " + o.Name
}
