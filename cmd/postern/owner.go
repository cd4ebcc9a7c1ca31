package main

import (
	"os"

	"postern/internal/config"
	"postern/internal/privs"
)

// serverOwner is the account whose files the data dir holds: the
// configured user when a command runs as root, else nobody to change to.
func serverOwner(cfg *config.Config) (privs.Owner, error) {
	return privs.ServiceOwner(cfg.User)
}

// makeDataDir creates the data dir for a command that writes into it,
// owned by the service user, and returns that owner for what the command
// writes there.
func makeDataDir(cfg *config.Config) (privs.Owner, error) {
	owner, err := serverOwner(cfg)
	if err != nil {
		return owner, err
	}
	_, statErr := os.Stat(cfg.DataDir)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return owner, err
	}
	if os.IsNotExist(statErr) {
		err = owner.Give(cfg.DataDir)
	}
	return owner, err
}

// ownerNote says to whom a written file was given, for a command's output.
func ownerNote(o privs.Owner) string {
	if !o.IsSet() {
		return ""
	}
	return ", owned by " + o.Name
}
