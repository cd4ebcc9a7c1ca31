package sendmail

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		want Args
		err  string
	}{
		{args: nil, want: Args{Mode: ModeDeliver, DotEnds: true}},
		{args: []string{"-t", "-i"}, want: Args{Mode: ModeDeliver, Extract: true}},
		{args: []string{"-ti"}, want: Args{Mode: ModeDeliver, Extract: true}},
		{args: []string{"-oi", "a@b.example", "c"}, want: Args{Mode: ModeDeliver, Rcpts: []string{"a@b.example", "c"}}},
		{args: []string{"-f", "x@y.example", "-F", "Cron Daemon", "r"}, want: Args{Mode: ModeDeliver, DotEnds: true, From: "x@y.example", FromSet: true, FullName: "Cron Daemon", Rcpts: []string{"r"}}},
		{args: []string{"-fx@y.example", "-FName"}, want: Args{Mode: ModeDeliver, DotEnds: true, From: "x@y.example", FromSet: true, FullName: "Name"}},
		{args: []string{"-r", "<>"}, want: Args{Mode: ModeDeliver, DotEnds: true, From: "<>", FromSet: true}},
		{args: []string{"-bs"}, want: Args{Mode: ModeSMTP, DotEnds: true}},
		{args: []string{"-bv", "a"}, want: Args{Mode: ModeVerify, DotEnds: true, Rcpts: []string{"a"}}},
		{args: []string{"-bp"}, want: Args{Mode: ModeList, DotEnds: true}},
		{args: []string{"-bi"}, want: Args{Mode: ModeAliases, DotEnds: true}},
		{args: []string{"-bm", "-oifalse"}, want: Args{Mode: ModeDeliver, DotEnds: true}},
		{args: []string{"-C", "/etc/p.toml"}, want: Args{Mode: ModeDeliver, DotEnds: true, Config: "/etc/p.toml"}},
		{args: []string{"-C/etc/p.toml"}, want: Args{Mode: ModeDeliver, DotEnds: true, Config: "/etc/p.toml"}},
		{args: []string{"-config", "/etc/p.toml"}, want: Args{Mode: ModeDeliver, DotEnds: true, Config: "/etc/p.toml"}},
		{args: []string{"--config=/etc/p.toml"}, want: Args{Mode: ModeDeliver, DotEnds: true, Config: "/etc/p.toml"}},
		{args: []string{"-config=/etc/p.toml", "-h", "x"}, err: "unknown option -h"},
		{args: []string{"-oem", "-oee", "-odb", "-odi", "-om", "-oo", "-n", "-m", "-G", "-U", "-L", "tag", "-h", "12", "-h5"}, want: Args{Mode: ModeDeliver, DotEnds: true}},
		{args: []string{"-O", "IgnoreDots=true", "-ODeliveryMode=b"}, want: Args{Mode: ModeDeliver}},
		{args: []string{"-O", "IgnoreDots=false"}, want: Args{Mode: ModeDeliver, DotEnds: true}},
		{args: []string{"-N", "success,failure", "-R", "hdrs", "-V", "env1", "-B", "8bitmime"}, want: Args{Mode: ModeDeliver, DotEnds: true, Notify: "SUCCESS,FAILURE", Ret: "HDRS", EnvID: "env1", Body: "8BITMIME"}},
		{args: []string{"-Nnever", "-Rfull", "-B7bit"}, want: Args{Mode: ModeDeliver, DotEnds: true, Notify: "NEVER", Ret: "FULL", Body: "7BIT"}},
		{args: []string{"--", "-odd-name@x.example"}, want: Args{Mode: ModeDeliver, DotEnds: true, Rcpts: []string{"-odd-name@x.example"}}},
		{args: []string{"-v", "-"}, want: Args{Mode: ModeDeliver, DotEnds: true, Verbose: true, Rcpts: []string{"-"}}},
		// Debian's cron and cronie, as they call sendmail.
		{args: []string{"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"}, want: Args{Mode: ModeDeliver, FullName: "CronDaemon", Body: "8BITMIME", Rcpts: []string{"root"}}},
		{args: []string{"-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"}, want: Args{Mode: ModeDeliver, Extract: true, FullName: "CronDaemon", From: "root", FromSet: true}},
		// PHP's default sendmail_path, and mutt's.
		{args: []string{"-t", "-i"}, want: Args{Mode: ModeDeliver, Extract: true}},
		{args: []string{"-oem", "-oi", "--", "a@b.example"}, want: Args{Mode: ModeDeliver, Rcpts: []string{"a@b.example"}}},
		{args: []string{"-X", "/tmp/x"}, err: "-X"},
		{args: []string{"-q"}, want: Args{Mode: ModeQueueRun, DotEnds: true}},
		{args: []string{"-q1h"}, err: "postern queue flush"},
		{args: []string{"-bd"}, err: "postern serve"},
		{args: []string{"-bt"}, err: "not supported"},
		{args: []string{"-oQ/var/spool"}, err: "not supported"},
		{args: []string{"-O", "QueueDirectory=/tmp"}, err: "not supported"},
		{args: []string{"-d0.1"}, err: "debugging"},
		{args: []string{"-f"}, err: "-f needs a value"},
		{args: []string{"-r"}, err: "-r needs a value"},
		{args: []string{"-O"}, err: "-O needs a value"},
		{args: []string{"-f", "a@b", "-f", "c@d"}, err: "more than one -f"},
		{args: []string{"-f", "a@b", "-rc@d"}, err: "more than one -f"},
		{args: []string{"-N", "sometimes"}, err: "-N"},
		{args: []string{"-N", "never,success"}, err: "-N"},
		{args: []string{"-R", "all"}, err: "-R"},
		{args: []string{"-B", "binary"}, err: "-B"},
		{args: []string{"-Z"}, err: "unknown option -Z"},
		{args: []string{"-tx"}, err: "unknown option -tx"},
		{args: []string{"---"}, err: "unknown option ---"},
		{args: []string{"-config"}, err: "-config needs a file"},
	}
	for _, tc := range tests {
		got, err := ParseArgs(tc.args)
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
	for _, help := range []string{"-help", "--help"} {
		if _, err := ParseArgs([]string{"-t", help}); err != ErrHelp {
			t.Errorf("%s: %v", help, err)
		}
	}
}

func TestAlias(t *testing.T) {
	for name, want := range map[string][]string{"mailq": {"-bp"}, "newaliases": {"-bi"}, "sendmail": nil} {
		if got := Alias(name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

// FuzzParseArgs feeds NUL-separated command lines: ParseArgs never
// panics, and what it accepts is a known mode with DSN values it checked.
func FuzzParseArgs(f *testing.F) {
	f.Add("-t\x00-oi\x00-f\x00a@b")
	f.Add("-fx\x00-FName\x00--\x00-r")
	f.Add("-h\x00-N\x00never\x00-O\x00IgnoreDots")
	f.Add("-b\x00-o\x00-\x00--config=")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseArgs(strings.Split(s, "\x00"))
		if err != nil {
			if a != nil {
				t.Fatal("result with an error")
			}
			return
		}
		if a == nil {
			t.Fatal("nil result without error")
		}
		if strings.IndexByte("msvpiq", byte(a.Mode)) < 0 {
			t.Fatalf("mode %q", a.Mode)
		}
		if a.Ret != "" && a.Ret != "FULL" && a.Ret != "HDRS" {
			t.Fatalf("ret %q", a.Ret)
		}
		if a.Body != "" && a.Body != "7BIT" && a.Body != "8BITMIME" {
			t.Fatalf("body %q", a.Body)
		}
		if a.Notify != "" && checkNotify(a.Notify) != nil {
			t.Fatalf("notify %q", a.Notify)
		}
	})
}
