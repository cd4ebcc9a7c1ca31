package main

import (
	"postern/internal/config"
	"postern/internal/layout"
)

// configFlagHelp is the help text of every command's -config flag.
const configFlagHelp = "configuration `file` (default: $POSTERN_CONFIG, then " + layout.SystemConfig + " if it exists, then the embedded default)"

// loadConfig reads the configuration layout.ConfigFile names.
func loadConfig(flag string) (*config.Config, []config.Warning, error) {
	return config.Load(layout.ConfigFile(flag))
}
