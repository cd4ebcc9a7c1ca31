package procnet

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name, line string
		want       Socket
		bad        bool
	}{
		{name: "ipv4 listen", line: "   0: 0100007F:2351 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0",
			want: Socket{Local: ap("127.0.0.1:9041"), Remote: ap("0.0.0.0:0"), State: StateListen, Inode: 12345}},
		{name: "ipv4 established", line: "1: 020200C0:A6CE 507100CB:01BB 01 00000000:00000000 02:00000026 00000000   65534        0 14569 2 00000000c3677f9f 20 4 26 58 146",
			want: Socket{Local: ap("192.0.2.2:42702"), Remote: ap("203.0.113.80:443"), State: 1, UID: 65534, Inode: 14569}},
		{name: "ipv6 loopback", line: "0: 00000000000000000000000001000000:0019 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   0 0 777 1 0",
			want: Socket{Local: ap("[::1]:25"), Remote: ap("[::]:0"), State: StateListen, Inode: 777}},
		{name: "ipv4-mapped", line: "0: 0000000000000000FFFF00000100007F:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5 1",
			want: Socket{Local: ap("127.0.0.1:80"), Remote: ap("[::]:0"), State: StateListen, Inode: 5}},
		{name: "time wait", line: "2: 0100007F:2351 0100007F:B0B0 06 00000000:00000000 03:00000F9E 00000000 0 0 0 3 0000000000000000",
			want: Socket{Local: ap("127.0.0.1:9041"), Remote: ap("127.0.0.1:45232"), State: 6}},
		{name: "header", line: "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode", bad: true},
		{name: "short", line: "0: 0100007F:2351 00000000:0000 0A", bad: true},
		{name: "odd address", line: "0: 0100007:2351 00000000:0000 0A 0:0 0:0 0 0 0 1", bad: true},
		{name: "no port", line: "0: 0100007F 00000000:0000 0A 0:0 0:0 0 0 0 1", bad: true},
		{name: "not hex", line: "0: 0100007G:2351 00000000:0000 0A 0:0 0:0 0 0 0 1", bad: true},
		{name: "bad state", line: "0: 0100007F:2351 00000000:0000 1FF 0:0 0:0 0 0 0 1", bad: true},
		{name: "bad uid", line: "0: 0100007F:2351 00000000:0000 0A 0:0 0:0 0 -1 0 1", bad: true},
		{name: "bad inode", line: "0: 0100007F:2351 00000000:0000 0A 0:0 0:0 0 0 0 x", bad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLine(tc.line)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseLine(%q) = %+v, want an error", tc.line, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseLine(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
			}
		})
	}
}

func TestParseTable(t *testing.T) {
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1087 1 00000000d92fb39b 100 0 0 10 0\n\n"
	got, err := Parse(strings.NewReader(table))
	if err != nil || len(got) != 1 || got[0].Local != netip.MustParseAddrPort("0.0.0.0:2024") {
		t.Fatalf("Parse = %+v, %v", got, err)
	}
	if _, err := Parse(strings.NewReader(table + "garbage\n")); err == nil {
		t.Fatal("a table with a bad line parsed")
	}
}

func TestCovers(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		l, want string
		ok      bool
	}{
		{"127.0.0.1:25", "127.0.0.1:25", true},
		{"0.0.0.0:25", "127.0.0.1:25", true},
		{"[::]:25", "127.0.0.1:25", true},
		{"127.0.0.1:25", "[::]:25", true},
		{"127.0.0.2:25", "127.0.0.1:25", false},
		{"127.0.0.1:26", "127.0.0.1:25", false},
	} {
		if got := covers(ap(tc.l), ap(tc.want)); got != tc.ok {
			t.Errorf("covers(%s, %s) = %v", tc.l, tc.want, got)
		}
	}
}

// The kernel's own table: a port this test holds is found, and so is
// the process that holds it.
func TestHolderLive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	procs, listening, err := Proc("/proc").Holder(addr)
	if err != nil || !listening || len(procs) != 1 || procs[0].PID != os.Getpid() || procs[0].Name == "" {
		t.Fatalf("Holder(%s) = %v, %v, %v; want this process", addr, procs, listening, err)
	}
	if held, err := Proc("/proc").HeldBy(os.Getpid(), addr); !held || err != nil {
		t.Fatalf("HeldBy(self, %s) = %v, %v", addr, held, err)
	}
	if held, _ := Proc("/proc").HeldBy(1, addr); held {
		t.Fatalf("HeldBy(1, %s) = true", addr)
	}
	// Closed: nothing listens there any more.
	ln.Close()
	if _, listening, _ := Proc("/proc").Holder(addr); listening {
		t.Fatalf("%s still listening after Close", addr)
	}
}
