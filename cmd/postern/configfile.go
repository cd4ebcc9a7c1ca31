package main

import (
	"os"

	"postern/internal/config"
)

// systemConfig is the configuration file of an installed postern (the
// package's conffile).
const systemConfig = "/etc/postern/postern.toml"

// configFile is the configuration file a command reads: its -config (or
// sendmail's -C), else $POSTERN_CONFIG, else /etc/postern/postern.toml
// when it exists, else "" for the embedded default. Every command finds
// the same file, so that root's `postern user add` writes where the
// server reads.
func configFile(flag string) string {
	if flag != "" {
		return flag
	}
	if p := os.Getenv("POSTERN_CONFIG"); p != "" {
		return p
	}
	if _, err := os.Stat(systemConfig); err == nil {
		return systemConfig
	}
	return ""
}

// configFlagHelp is the help text of every command's -config flag.
const configFlagHelp = "configuration `file` (default: $POSTERN_CONFIG, then " + systemConfig + " if it exists, then the embedded default)"

// loadConfig reads the configuration configFile names.
func loadConfig(flag string) (*config.Config, []config.Warning, error) {
	return config.Load(configFile(flag))
}
