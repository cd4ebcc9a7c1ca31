package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"postern/internal/config"
	"postern/internal/smtp"
)

func TestParseSendmailArgs(t *testing.T) {
	tests := []struct {
		args []string
		want sendmailArgs
		err  string
	}{
		{args: nil, want: sendmailArgs{mode: 'm', dotEnds: true}},
		{args: []string{"-t", "-i"}, want: sendmailArgs{mode: 'm', extract: true}},
		{args: []string{"-ti"}, want: sendmailArgs{mode: 'm', extract: true}},
		{args: []string{"-oi", "a@b.example", "c"}, want: sendmailArgs{mode: 'm', rcpts: []string{"a@b.example", "c"}}},
		{args: []string{"-f", "x@y.example", "-F", "Cron Daemon", "r"}, want: sendmailArgs{mode: 'm', dotEnds: true, from: "x@y.example", fromSet: true, fullName: "Cron Daemon", rcpts: []string{"r"}}},
		{args: []string{"-fx@y.example", "-FName"}, want: sendmailArgs{mode: 'm', dotEnds: true, from: "x@y.example", fromSet: true, fullName: "Name"}},
		{args: []string{"-r", "<>"}, want: sendmailArgs{mode: 'm', dotEnds: true, from: "<>", fromSet: true}},
		{args: []string{"-bs"}, want: sendmailArgs{mode: 's', dotEnds: true}},
		{args: []string{"-bv", "a"}, want: sendmailArgs{mode: 'v', dotEnds: true, rcpts: []string{"a"}}},
		{args: []string{"-bp"}, want: sendmailArgs{mode: 'p', dotEnds: true}},
		{args: []string{"-bi"}, want: sendmailArgs{mode: 'i', dotEnds: true}},
		{args: []string{"-C", "/etc/p.toml"}, want: sendmailArgs{mode: 'm', dotEnds: true, config: "/etc/p.toml"}},
		{args: []string{"-config", "/etc/p.toml"}, want: sendmailArgs{mode: 'm', dotEnds: true, config: "/etc/p.toml"}},
		{args: []string{"--config=/etc/p.toml"}, want: sendmailArgs{mode: 'm', dotEnds: true, config: "/etc/p.toml"}},
		{args: []string{"-oem", "-oee", "-odb", "-odi", "-om", "-oo", "-n", "-m", "-G", "-U", "-L", "tag", "-h", "12", "-h5"}, want: sendmailArgs{mode: 'm', dotEnds: true}},
		{args: []string{"-O", "IgnoreDots=true", "-ODeliveryMode=b"}, want: sendmailArgs{mode: 'm'}},
		{args: []string{"-N", "success,failure", "-R", "hdrs", "-V", "env1", "-B", "8bitmime"}, want: sendmailArgs{mode: 'm', dotEnds: true, notify: "SUCCESS,FAILURE", ret: "HDRS", envid: "env1", body: "8BITMIME"}},
		{args: []string{"--", "-odd-name@x.example"}, want: sendmailArgs{mode: 'm', dotEnds: true, rcpts: []string{"-odd-name@x.example"}}},
		{args: []string{"-v", "-"}, want: sendmailArgs{mode: 'm', dotEnds: true, verbose: true, rcpts: []string{"-"}}},
		// Debian's cron and cronie, as they call sendmail.
		{args: []string{"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"}, want: sendmailArgs{mode: 'm', fullName: "CronDaemon", body: "8BITMIME", rcpts: []string{"root"}}},
		{args: []string{"-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"}, want: sendmailArgs{mode: 'm', extract: true, fullName: "CronDaemon", from: "root", fromSet: true}},
		// PHP's default sendmail_path, and mutt's.
		{args: []string{"-t", "-i"}, want: sendmailArgs{mode: 'm', extract: true}},
		{args: []string{"-oem", "-oi", "--", "a@b.example"}, want: sendmailArgs{mode: 'm', rcpts: []string{"a@b.example"}}},
		{args: []string{"-X", "/tmp/x"}, err: "-X"},
		{args: []string{"-q"}, want: sendmailArgs{mode: 'q', dotEnds: true}},
		{args: []string{"-q1h"}, err: "postern queue flush"},
		{args: []string{"-bd"}, err: "postern serve"},
		{args: []string{"-bt"}, err: "not supported"},
		{args: []string{"-oQ/var/spool"}, err: "not supported"},
		{args: []string{"-O", "QueueDirectory=/tmp"}, err: "not supported"},
		{args: []string{"-d0.1"}, err: "debugging"},
		{args: []string{"-f"}, err: "-f needs a value"},
		{args: []string{"-f", "a@b", "-f", "c@d"}, err: "more than one -f"},
		{args: []string{"-N", "sometimes"}, err: "-N"},
		{args: []string{"-N", "never,success"}, err: "-N"},
		{args: []string{"-R", "all"}, err: "-R"},
		{args: []string{"-B", "binary"}, err: "-B"},
		{args: []string{"-Z"}, err: "unknown option -Z"},
		{args: []string{"-tx"}, err: "unknown option -tx"},
		{args: []string{"-config"}, err: "-config needs a file"},
	}
	for _, tc := range tests {
		got, err := parseSendmailArgs(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.args, *got, tc.want)
		}
	}
	if _, err := parseSendmailArgs([]string{"-help"}); err != errHelp {
		t.Errorf("-help: %v", err)
	}
}

func TestSendmailAlias(t *testing.T) {
	for name, want := range map[string][]string{"mailq": {"-bp"}, "newaliases": {"-bi"}, "sendmail": nil} {
		if got := sendmailAlias(name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func TestEnvelopeSender(t *testing.T) {
	tests := []struct {
		from    string
		set     bool
		want    string
		wantErr bool
	}{
		{"", false, "cron@mx.example.test", false},
		{"", true, "", false},
		{"<>", true, "", false},
		{"boss@example.org", true, "boss@example.org", false},
		{"<boss@example.org>", true, "boss@example.org", false},
		{"root", true, "root@mx.example.test", false},
		{"a@b.example, c@d.example", true, "", true},
		{"not an address", true, "", true},
	}
	for _, tc := range tests {
		got, err := envelopeSender(&sendmailArgs{from: tc.from, fromSet: tc.set}, "cron", "mx.example.test")
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("-f %q: %q, %v", tc.from, got, err)
		}
	}
}

func TestReplyCode(t *testing.T) {
	tests := []struct {
		code int
		enh  string
		want int
	}{
		{451, "4.3.0", exTempFail},
		{421, "4.7.0", exTempFail},
		{550, "5.1.1", exNoUser},
		{550, "5.7.1", exNoPerm},
		{552, "5.3.4", exDataErr},
		{554, "5.6.0", exDataErr},
		{554, "5.0.0", exUnavailable},
		{550, "", exUnavailable},
	}
	for _, tc := range tests {
		if got := replyCode(&smtp.Reply{Code: tc.code, Enhanced: tc.enh}); got != tc.want {
			t.Errorf("%d %s: %d, want %d", tc.code, tc.enh, got, tc.want)
		}
	}
}

func FuzzParseSendmailArgs(f *testing.F) {
	f.Add("-t\x00-oi\x00-f\x00a@b")
	f.Add("-fx\x00-FName\x00--\x00-r")
	f.Add("-h\x00-N\x00never\x00-O\x00IgnoreDots")
	f.Add("-b\x00-o\x00-\x00--config=")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := parseSendmailArgs(strings.Split(s, "\x00"))
		if err == nil && a == nil {
			t.Fatal("nil result without error")
		}
		if err == nil && strings.IndexByte("msvpiq", a.mode) < 0 {
			t.Fatalf("mode %q", a.mode)
		}
	})
}

func TestCheckLocal(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	cfgFile := filepath.Join(dir, "postern.toml")
	os.WriteFile(cfgFile, nil, 0o600)
	data := filepath.Join(dir, "data")
	cfg := &config.Config{File: cfgFile, DataDir: data, Local: config.Local{Socket: filepath.Join(data, "submit.sock")}}
	r := checkLocal(cfg)
	if len(r.warnings) != 2 || !strings.Contains(r.warnings[0], "inside data_dir") || !strings.Contains(r.warnings[1], "cannot read this file") {
		t.Errorf("socket in data_dir, file 0600: %q", r.warnings)
	}

	open := filepath.Join(dir, "run")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	os.Chmod(cfgFile, 0o644)
	cfg.Local.Socket = filepath.Join(open, "s.sock")
	r = checkLocal(cfg)
	if len(r.warnings) != 0 || len(r.problems) != 1 || !strings.Contains(r.problems[0], "writable by group or others") {
		t.Errorf("world-writable socket directory: %+v", r)
	}
	os.Chmod(open, 0o755)
	if r = checkLocal(cfg); len(r.warnings)+len(r.problems) != 0 {
		t.Errorf("good place: %+v", r)
	}
	cfg.Local.Socket = ""
	if r = checkLocal(cfg); len(r.warnings)+len(r.problems) != 0 {
		t.Errorf("off: %+v", r)
	}
}

func TestListenLocal(t *testing.T) {
	base := t.TempDir()
	sock := filepath.Join(base, "run", "s.sock")
	ln, err := listenLocal(sock, nil)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket %v %v", fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(sock)); di.Mode().Perm() != 0o755 {
		t.Errorf("directory mode %v", di.Mode())
	}
	// A second server on the same socket is refused while the first runs.
	if _, err := listenLocal(sock, nil); err == nil || !strings.Contains(err.Error(), "already listening") {
		t.Errorf("second listener: %v", err)
	}
	// A socket left behind by a crash is replaced.
	ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	ln.Close()
	ln2, err := listenLocal(sock, nil)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	ln2.Close()
	// Not a socket: left alone.
	plain := filepath.Join(base, "run", "file")
	os.WriteFile(plain, nil, 0o600)
	if _, err := listenLocal(plain, nil); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("plain file: %v", err)
	}
	// A directory others may write to.
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if _, err := listenLocal(filepath.Join(open, "s.sock"), nil); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("world-writable directory: %v", err)
	}
	if os.Geteuid() == 0 {
		// A directory of another user.
		theirs := filepath.Join(base, "theirs")
		os.Mkdir(theirs, 0o755)
		os.Chown(theirs, 33, 33)
		if _, err := listenLocal(filepath.Join(theirs, "s.sock"), nil); err == nil || !strings.Contains(err.Error(), "belongs to uid 33") {
			t.Errorf("directory of another user: %v", err)
		}
	}
}
