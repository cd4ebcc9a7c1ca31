// Package layout says where a configuration puts the server's files and
// what may reach them: the paths that must not be writable by others
// (PermPaths), what the sandbox lets the running server read and write
// (SandboxPaths), the data dir a command writes into (MakeDataDir), and
// how the server works from inside its data dir when a directory above
// it is closed to its user (Enter).
package layout

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"postern/internal/config"
	"postern/internal/privs"
)

// Enter makes the data dir reachable for the service user when a
// directory above it is closed to that user (the embedded default's
// ./postern-data under root's home, say): like Postfix in its queue
// directory, the server then works from inside the data dir, with every
// path below it made relative to it. It returns the configuration to
// serve with (cfg itself when nothing had to change).
func Enter(cfg *config.Config, owner privs.Owner, log *slog.Logger) (*config.Config, error) {
	if !owner.IsSet() {
		return cfg, nil
	}
	var statErr error
	if err := owner.Do(func() { _, statErr = os.Stat(cfg.DataDir) }); err != nil {
		return nil, err
	}
	if !errors.Is(statErr, fs.ErrPermission) {
		return cfg, nil
	}
	if err := os.Chdir(cfg.DataDir); err != nil {
		return nil, err
	}
	log.Info("data dir: a directory above it is closed to the service user; serving from inside it",
		"data_dir", cfg.DataDir, "user", owner.Name)
	c := *cfg
	relocate(reflect.ValueOf(&c).Elem(), filepath.Clean(cfg.DataDir))
	return &c, nil
}

// relocate rewrites, in place, every string in v (through structs,
// pointers, slices and maps) that is dir or a path below it, relative to
// dir. Slices and maps are copied first, so that the original
// configuration is left as it was.
func relocate(v reflect.Value, dir string) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(relativeTo(v.String(), dir))
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				relocate(v.Field(i), dir)
			}
		}
	case reflect.Pointer:
		if !v.IsNil() && v.CanSet() {
			cp := reflect.New(v.Elem().Type())
			cp.Elem().Set(v.Elem())
			relocate(cp.Elem(), dir)
			v.Set(cp)
		}
	case reflect.Slice:
		if !v.IsNil() && v.CanSet() {
			cp := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(cp, v)
			for i := 0; i < cp.Len(); i++ {
				relocate(cp.Index(i), dir)
			}
			v.Set(cp)
		}
	case reflect.Map:
		if !v.IsNil() && v.CanSet() && v.Type().Elem().Kind() == reflect.String {
			cp := reflect.MakeMapWithSize(v.Type(), v.Len())
			for it := v.MapRange(); it.Next(); {
				cp.SetMapIndex(it.Key(), reflect.ValueOf(relativeTo(it.Value().String(), dir)).Convert(v.Type().Elem()))
			}
			v.Set(cp)
		}
	}
}

// relativeTo returns p relative to dir ("." for dir itself, "./x" below
// it) when p is dir or below it, and p unchanged otherwise.
func relativeTo(p, dir string) string {
	switch {
	case p == dir:
		return "."
	case strings.HasPrefix(p, dir+"/"):
		return "./" + p[len(dir)+1:]
	}
	return p
}
